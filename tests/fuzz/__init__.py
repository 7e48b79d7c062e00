"""Coverage-guided fuzzing of the codec with atheris: see README.md in this folder."""
