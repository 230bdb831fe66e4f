//! Import from an uploaded CSV/XLSX and export to a download: the same engine as the CLI.

use std::path::{Path as FsPath, PathBuf};

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zhucan_core::{Localized, Role};
use zhucan_jobs::{
    ImportError, ImportOptions, ImportSource, ImportSummary, export_persons, import_persons,
};

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::render::{Layout, page};

#[derive(Template)]
#[template(path = "staff/import.html")]
struct ImportPage {
    l: Layout,
    errors: FormErrors,
    dry_run: bool,
    summary: Option<ImportSummary>,
    report: Option<String>,
}

fn import_page(
    ctx: &Ctx,
    errors: FormErrors,
    dry_run: bool,
    summary: Option<ImportSummary>,
    report: Option<String>,
) -> AppResult<Response> {
    page(&ImportPage {
        l: Layout::new(ctx, "批量导入残疾人信息", "Import persons"),
        errors,
        dry_run,
        summary,
        report,
    })
}

pub async fn import_form(ctx: Ctx) -> AppResult<Response> {
    ctx.staff_with(Role::can_import)?;
    import_page(&ctx, FormErrors::default(), false, None, None)
}

/// Each account's reports live in a folder of its own, so one can only download one's own.
fn reports_dir(state: &AppState, account_id: &str) -> PathBuf {
    state.config.data_dir.join("reports").join(account_id)
}

fn bad_upload(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(e.to_string())
}

/// Reads the upload into memory (the request's size limit bounds it) and imports from there:
/// full resident IDs and phones are never written to a temporary file that a crash would leave
/// behind. The form puts `csrf` first, so a forged request is refused before any of its file
/// is read.
pub async fn import_upload(
    State(state): State<AppState>,
    ctx: Ctx,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let account = ctx.staff_with(Role::can_import)?.clone();
    let t = Tr { lang: ctx.lang };
    let (mut csrf_ok, mut dry_run, mut file) = (false, false, None);
    while let Some(field) = multipart.next_field().await.map_err(bad_upload)? {
        match field.name() {
            Some("csrf") => {
                ctx.check_csrf(&field.text().await.map_err(bad_upload)?)?;
                csrf_ok = true;
            }
            Some("dry_run") => dry_run = true,
            Some("file") if csrf_ok => {
                let name = field
                    .file_name()
                    .map(str::to_owned)
                    .filter(|n| !n.is_empty());
                let upload = field.bytes().await.map_err(bad_upload)?;
                file = name.map(|name| (name, upload));
            }
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(AppError::Csrf);
    }
    let Some((name, upload)) = file else {
        let mut errors = FormErrors::default();
        errors.add(
            "file",
            t.z(
                "请选择要导入的 CSV 或 XLSX 文件",
                "Choose a CSV or XLSX file to import",
            ),
        );
        return import_page(&ctx, errors, dry_run, None, None);
    };
    let report_dir = reports_dir(&state, &account.id);
    tokio::fs::create_dir_all(&report_dir)
        .await
        .map_err(anyhow::Error::from)?;
    let report_name = format!("{}.xlsx", uuid::Uuid::now_v7());
    let opts = ImportOptions {
        dry_run,
        lang: ctx.lang,
        progress: false,
        within: Some(account.scope.clone()),
    };
    let reader = std::io::Cursor::new(upload);
    let result = import_persons(
        &state.store,
        &ctx.actor(),
        ImportSource::reader(name, reader),
        &opts,
        Some(&report_dir.join(&report_name)),
    )
    .await;
    match result {
        Ok(summary) => {
            let report = (summary.rejected > 0).then_some(report_name);
            import_page(&ctx, FormErrors::default(), dry_run, Some(summary), report)
        }
        Err(e @ (ImportError::Store(_) | ImportError::Report(_) | ImportError::Io { .. })) => {
            Err(AppError::Internal(e.into()))
        }
        Err(e) => {
            let mut errors = FormErrors::default();
            errors.add("file", e.message(ctx.lang));
            import_page(&ctx, errors, dry_run, None, None)
        }
    }
}

pub async fn report(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let account = ctx.staff_with(Role::can_import)?;
    // Only names this server generated: a UUID and an extension, never a path.
    if !file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        || file.starts_with('.')
    {
        return Err(AppError::NotFound);
    }
    let path = reports_dir(&state, &account.id).join(&file);
    download(&path, "import-errors.xlsx").await
}

async fn download(path: &FsPath, name: &str) -> AppResult<Response> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|_| AppError::NotFound)?;
    let mime = if name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok((
        [
            (CONTENT_TYPE, mime.to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "staff/export.html")]
struct ExportPage {
    l: Layout,
    can_unmask: bool,
}

pub async fn export_form(ctx: Ctx) -> AppResult<Response> {
    let account = ctx.staff_with(Role::can_import)?;
    page(&ExportPage {
        can_unmask: account.role.can_export_unmasked(),
        l: Layout::new(&ctx, "导出残疾人信息", "Export persons"),
    })
}

#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    format: String,
    unmasked: Option<String>,
}

/// Exports the caller's scope; unmasked numbers only for roles allowed them (and audited).
pub async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<ExportForm>,
) -> AppResult<Response> {
    let account = ctx.staff_with(Role::can_import)?;
    ctx.check_csrf(&f.csrf)?;
    let unmasked = f.unmasked.is_some();
    if unmasked && !account.role.can_export_unmasked() {
        return Err(AppError::Forbidden);
    }
    let ext = if f.format == "xlsx" { "xlsx" } else { "csv" };
    let dir = state.config.data_dir.join("exports");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(anyhow::Error::from)?;
    let path = dir.join(format!("{}.{ext}", uuid::Uuid::now_v7()));
    export_persons(
        &state.store,
        &ctx.actor(),
        &ctx.scope(),
        &path,
        unmasked,
        ctx.lang,
    )
    .await
    .map_err(|e| AppError::Internal(e.into()))?;
    let response = download(&path, &format!("persons.{ext}")).await;
    let _ = tokio::fs::remove_file(&path).await;
    response
}
