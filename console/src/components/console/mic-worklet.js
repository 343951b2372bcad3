// Runs in the audio thread: hands each block of microphone samples to the page, which encodes
// and sends them. The AudioContext runs at 8 kHz, so the browser has already resampled.
class MicTap extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && channel.length) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("mic-tap", MicTap);
