//! An application's materials: the upload page of the journey (also used to supply what a
//! case returned for correction lacks), and downloading a material again.
//!
//! The store keeps a material's name only, so the material an upload answers is written in
//! front of the file's name (`身份证：scan.png`): staff see it in the file list as well.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, State as AxState};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use zhucan_core::Lang;
use zhucan_services::{
    DocumentError, DocumentKind, MAX_DOCUMENT_BYTES, Material, ServiceVersion, check_document,
};
use zhucan_store::{CaseRecord, DocumentMeta};

use super::applications::{case_service, editable_case, z};
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::render::{Layout, page, url_encode};

/// The stored name of a file uploaded for `m`.
fn stored_name(m: &Material, file: &str) -> String {
    // The store allows 200 characters; the material's name comes first and must survive.
    let file: String = file.chars().take(120).collect();
    format!("{}：{file}", m.name_zh)
}

/// The file's own name, if the document was uploaded for `m`.
fn file_of<'a>(m: &Material, doc: &'a DocumentMeta) -> Option<&'a str> {
    doc.name
        .strip_prefix(m.name_zh.as_str())
        .and_then(|rest| rest.strip_prefix('：'))
}

/// "35 KB", "1.2 MB": sizes as people read them.
pub(crate) fn size_text(bytes: i64) -> String {
    const KB: i64 = 1024;
    if bytes < KB * KB {
        format!("{} KB", (bytes + KB - 1) / KB)
    } else {
        format!("{:.1} MB", bytes as f64 / (KB * KB) as f64)
    }
}

/// A file as the lists show it.
pub struct FileRow {
    pub id: String,
    pub name: String,
    pub size: String,
    /// The applicant may still remove it (see `CaseRecord::may_remove`).
    pub removable: bool,
}

impl FileRow {
    fn new(c: &CaseRecord, doc: &DocumentMeta, name: &str) -> FileRow {
        FileRow {
            id: doc.id.clone(),
            name: name.to_owned(),
            size: size_text(doc.size),
            removable: c.may_remove(doc),
        }
    }
}

/// One material of the item with the files uploaded for it.
pub struct MaterialRow {
    pub index: usize,
    pub name: String,
    pub required: bool,
    pub files: Vec<FileRow>,
    pub error: Option<String>,
}

/// The item's materials with their files, and the files that answer none of them (uploaded
/// elsewhere, or for a material the item no longer lists).
pub(crate) fn material_rows(
    s: &ServiceVersion,
    c: &CaseRecord,
    lang: Lang,
) -> (Vec<MaterialRow>, Vec<FileRow>) {
    let docs = &c.documents;
    let rows = s
        .materials()
        .iter()
        .enumerate()
        .map(|(index, m)| MaterialRow {
            index,
            name: m.name(lang).to_owned(),
            required: m.required,
            files: docs
                .iter()
                .filter_map(|d| file_of(m, d).map(|name| FileRow::new(c, d, name)))
                .collect(),
            error: None,
        })
        .collect();
    let other = docs
        .iter()
        .filter(|d| s.materials().iter().all(|m| file_of(m, d).is_none()))
        .map(|d| FileRow::new(c, d, &d.name))
        .collect();
    (rows, other)
}

/// Why each required material without a file blocks submission, by the field it links to.
pub(crate) fn missing_materials(rows: &[MaterialRow], lang: Lang, errors: &mut FormErrors) {
    for row in rows.iter().filter(|r| r.required && r.files.is_empty()) {
        errors.add(
            &format!("material-{}", row.index),
            if lang == Lang::Zh {
                format!("请上传：{}", row.name)
            } else {
                format!("Upload: {}", row.name)
            },
        );
    }
}

#[derive(Template)]
#[template(path = "portal/materials.html")]
struct MaterialsPage {
    l: Layout,
    c: CaseRecord,
    item: String,
    rows: Vec<MaterialRow>,
    other: Vec<FileRow>,
    errors: FormErrors,
    uploaded: usize,
    removed: Option<String>,
}

async fn materials_page(
    state: &AppState,
    ctx: &Ctx,
    c: CaseRecord,
    errors: FormErrors,
    (uploaded, removed): (usize, Option<String>),
) -> AppResult<Response> {
    let s = &case_service(state, &c)?;
    let (mut rows, other) = material_rows(s, &c, ctx.lang);
    for row in &mut rows {
        row.error = errors.get(&format!("material-{}", row.index)).cloned();
    }
    let failed = !errors.is_empty();
    let (zh, en) = ("上传申请材料", "Upload the supporting documents");
    let mut resp = page(&MaterialsPage {
        l: if failed {
            Layout::new(ctx, &format!("错误：{zh}"), &format!("Error: {en}"))
        } else {
            Layout::new(ctx, zh, en)
        },
        item: state.service_name(&c.service_code, c.service_version, ctx.lang),
        c,
        rows,
        other,
        errors,
        uploaded,
        removed,
    })?;
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

#[derive(serde::Deserialize)]
pub struct UploadedQuery {
    uploaded: Option<usize>,
    /// The name of a file just removed.
    removed: Option<String>,
}

/// `GET /me/cases/{id}/materials`
pub async fn form(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<UploadedQuery>,
) -> AppResult<Response> {
    match editable_case(&state, &ctx, &id).await? {
        Ok(c) => {
            materials_page(
                &state,
                &ctx,
                c,
                FormErrors::default(),
                (q.uploaded.unwrap_or(0), q.removed),
            )
            .await
        }
        Err(redirect) => Ok(redirect),
    }
}

/// One file of the form: the material it is for, its name, and its content (or why not).
struct Upload {
    material: usize,
    name: String,
    content: Result<(DocumentKind, Vec<u8>), DocumentError>,
}

/// Reads a file field, keeping at most one byte over the limit: the size is still counted to
/// the end, so the refusal can say how large the file was.
async fn read_file(
    field: &mut axum::extract::multipart::Field<'_>,
) -> AppResult<Result<(DocumentKind, Vec<u8>), DocumentError>> {
    let mut bytes = Vec::new();
    let mut size = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(bad_upload)? {
        size += chunk.len();
        if bytes.len() <= MAX_DOCUMENT_BYTES {
            bytes
                .extend_from_slice(&chunk[..chunk.len().min(MAX_DOCUMENT_BYTES + 1 - bytes.len())]);
        }
    }
    if size > MAX_DOCUMENT_BYTES {
        return Ok(Err(DocumentError::TooLarge {
            size,
            max: MAX_DOCUMENT_BYTES,
        }));
    }
    Ok(check_document(&bytes).map(|kind| (kind, bytes)))
}

fn bad_upload(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(e.to_string())
}

/// `POST /me/cases/{id}/materials` (multipart): every file is checked by its content before
/// any is kept, so a refused file leaves nothing half-uploaded. The form puts `csrf` first.
pub async fn upload(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let lang = ctx.lang;
    // Whose case it is is known before any of the body is read.
    let c = match editable_case(&state, &ctx, &id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let mut csrf_ok = false;
    let mut uploads = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(bad_upload)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "csrf" {
            ctx.check_csrf(&field.text().await.map_err(bad_upload)?)?;
            csrf_ok = true;
            continue;
        }
        let Some(material) = name.strip_prefix('m').and_then(|i| i.parse::<usize>().ok()) else {
            continue;
        };
        if !csrf_ok {
            return Err(AppError::Csrf);
        }
        let file = field.file_name().unwrap_or_default().trim().to_owned();
        let content = read_file(&mut field).await?;
        // A file input left empty sends a part with no name and no bytes.
        if file.is_empty() && matches!(content, Err(DocumentError::Empty)) {
            continue;
        }
        uploads.push(Upload {
            material,
            name: if file.is_empty() {
                "upload".into()
            } else {
                file
            },
            content,
        });
    }
    if !csrf_ok {
        return Err(AppError::Csrf);
    }
    let s = &case_service(&state, &c)?;
    let mut errors = FormErrors::default();
    if uploads.is_empty() {
        errors.add(
            "material-0",
            z(lang, "请选择要上传的文件", "Choose a file to upload"),
        );
    }
    for u in &uploads {
        let field = format!("material-{}", u.material);
        match (&u.content, s.materials().get(u.material)) {
            (_, None) => return Err(AppError::BadRequest(format!("no material {}", u.material))),
            (Err(e), Some(m)) => errors.add(
                &field,
                if lang == Lang::Zh {
                    format!("{}（{}）：{}", m.name(lang), u.name, e.message(lang))
                } else {
                    format!("{} ({}): {}", m.name(lang), u.name, e.message(lang))
                },
            ),
            (Ok(_), Some(_)) => {}
        }
    }
    if !errors.is_empty() {
        return materials_page(&state, &ctx, c, errors, (0, None)).await;
    }
    let (actor, scope) = (ctx.actor(), ctx.scope());
    for u in &uploads {
        if let (Ok((kind, bytes)), Some(m)) = (&u.content, s.materials().get(u.material)) {
            state
                .store
                .add_document(&actor, &scope, &id, &stored_name(m, &u.name), *kind, bytes)
                .await?;
        }
    }
    Ok(Redirect::to(&format!(
        "/me/cases/{id}/materials?uploaded={}",
        uploads.len()
    ))
    .into_response())
}

#[derive(serde::Deserialize)]
pub struct RemoveForm {
    csrf: String,
}

/// `POST /me/cases/{id}/documents/{doc}/remove`: takes back a file uploaded by mistake, while
/// the applicant may (a draft's files, or those uploaded since the case was returned).
pub async fn remove(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path((id, doc)): Path<(String, String)>,
    Form(form): Form<RemoveForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    if let Err(redirect) = editable_case(&state, &ctx, &id).await? {
        return Ok(redirect);
    }
    let meta = state
        .store
        .remove_document(&ctx.actor(), &ctx.scope(), &id, &doc)
        .await?;
    Ok(Redirect::to(&format!(
        "/me/cases/{id}/materials?removed={}",
        url_encode(&meta.name)
    ))
    .into_response())
}

/// `GET /me/cases/{id}/documents/{doc}`: the file as uploaded, as a download (never shown
/// inline, so an image or PDF cannot run in the site's origin); the view is audited.
pub async fn download(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path((id, doc)): Path<(String, String)>,
) -> AppResult<Response> {
    ctx.resident_persons()?;
    let (meta, content) = state
        .store
        .document(&ctx.actor(), &ctx.scope(), &id, &doc)
        .await?;
    let ascii: String = meta
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        // Form encoding writes a space as `+`; RFC 5987 wants `%20` (a real `+` is `%2B`).
        url_encode(&meta.name).replace('+', "%20")
    );
    let header = |v: &str| {
        HeaderValue::from_str(v).map_err(|e| AppError::Internal(anyhow::anyhow!("header: {e}")))
    };
    Ok((
        [
            (CONTENT_TYPE, header(&meta.mime)?),
            (CONTENT_DISPOSITION, header(&disposition)?),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        content,
    )
        .into_response())
}
