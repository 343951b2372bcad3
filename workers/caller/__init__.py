"""The simulated caller: phone calls placed against the running platform exactly as Twilio
places them, for `callwright call`, the demo, scenario tests and the latency benchmark.

    caller.py        SimulatedCaller: ring, follow the script (or a responder), report
    line.py          PhoneLine: the Media Streams WebSocket, paced at 20 ms; playback and marks
    answer.py        the signed POST /twilio/voice and its TwiML
    playback.py      Twilio's playback buffer (marks, clear)
    conversation.py  turn detection and the caller-side measurements
    voice.py         Piper speech for the caller, Whisper for the agent's words
    script.py        script steps: say, dtmf, silence, hangup
    report.py        CallReport and its rich rendering
    sink.py          a loopback webhook receiver that checks signatures
    records.py       the call as the API records it, once finished
    command.py       `callwright call`

The Media Streams messages the caller sends and reads are Twilio's side of the protocol, in
`core.calls.twilio_peer` (the web console's test call speaks it too).

Import from the modules themselves; this package imports nothing, so that registering the CLI
command loads no speech engine.
"""
