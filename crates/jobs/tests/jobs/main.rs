//! Integration tests against a real SQLite store, in one binary to link once.

mod common;
mod export;
mod import;
mod synthetic;
mod synthetic_cases;
