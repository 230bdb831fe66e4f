//! Store integration tests: every test runs on SQLite and on PostgreSQL (see `common`).
//!
//! PostgreSQL comes from `TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
//! each test gets a database of its own. Without the variable the PostgreSQL variants fail,
//! unless `ZHUCAN_SKIP_POSTGRES=1`. `cargo test -p zhucan-store sqlite` runs one backend.

#[macro_use]
mod common;
mod suite;
