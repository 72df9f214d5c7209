//! trybuild cases for the RUSM macros live in tests/.
