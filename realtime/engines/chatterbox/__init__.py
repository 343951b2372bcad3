"""The parts of the Chatterbox TTS engine (`realtime.engines.chatterbox_tts.ChatterboxEngine`).

One module a concept, so each can be read alone: `errors` (what fails), `model` (what the engine
uses of chatterbox-tts), `loading` (checking and loading a checkpoint), `styles` (emotions into
generation knobs), `voices` (the voice conditionals cache) and `scheduler` (one GPU shared by
every call). The engine itself, and the names other code imports, stay in `chatterbox_tts`: each
engine is one module people import (shared/DESIGN.md).

Nothing here imports chatterbox-tts or torch at module level (see `loading`).
"""
