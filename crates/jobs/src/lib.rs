//! Batch jobs of zhucan: person import and export (CSV, XLSX), synthetic demo data and
//! synthetic cases for benchmarks.

mod columns;
pub mod export;
pub mod import;
/// Named so because `gen` is a reserved word in Rust 2024.
pub mod synthetic;
pub mod synthetic_cases;
mod table;

pub use columns::Column;
pub use export::{ExportError, export_persons};
pub use import::{
    ImportError, ImportOptions, ImportSource, ImportSummary, RowError, import_persons,
};
pub use synthetic::{Generator, demo_divisions, persons, seed_demo, write_persons_csv};
pub use synthetic_cases::{CasesError, GeneratedCases, generate_cases};
pub use table::WriteError;
