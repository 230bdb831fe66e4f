//! Web integration tests: the real router, in process (`tower::ServiceExt::oneshot`), over a
//! SQLite store in a temporary directory. One binary, so it links once.

mod common;
mod suite;
