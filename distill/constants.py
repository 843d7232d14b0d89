"""Project-wide constants: one place for each number the whole project agrees on."""

#: Sample rate of everything inside distill: audio is resampled to it on load.
SAMPLE_RATE = 48_000

#: File extensions the dataset scanner offers to the decoder (soundfile decides in the end).
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc"}
)

#: Export formats: name -> (soundfile format, default subtype, file extension).
EXPORT_FORMATS = {
    "wav": ("WAV", "PCM_24", ".wav"),
    "flac": ("FLAC", "PCM_24", ".flac"),
    "ogg": ("OGG", "VORBIS", ".ogg"),
    "mp3": ("MP3", "MPEG_LAYER_III", ".mp3"),
}

#: Model file format: the version this code writes and the versions it can read.
MODEL_FORMAT = "distill-model"
MODEL_FORMAT_VERSION = 1
SUPPORTED_MODEL_VERSIONS = (1,)
MODEL_SUFFIX = ".distill"
