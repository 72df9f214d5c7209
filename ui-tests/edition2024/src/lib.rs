//! trybuild cases compiled as edition-2024 code live in tests/ (see ui-tests for the rest).
