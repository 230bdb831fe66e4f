//! The OpenAPI 3.1 document of `/api/v1`: the operations come from the handlers' annotations
//! (collected by `utoipa_axum::routes!` as the routes are registered, so a route cannot be
//! served undocumented); this file adds the title, the auth schemes, and the schemas of bodies
//! that other modules define without `ToSchema` (the error list, the registry's records).

use std::sync::Arc;

use axum::Extension;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "zhucan API",
        version = "1",
        description = "The resident operations of the district Disabled Persons' Federation's \
            online services (service items, eligibility, applications and their progress) and the \
            staff registry. Sign in with a cookie session (writes then send `X-CSRF-Token`) or, \
            without cookies, get a bearer token from `POST /session`. Errors are \
            `{\"errors\":[{\"field\":…,\"detail\":…}]}`; texts meant for people are in the caller's \
            language (`?lang=zh|en`, else the language cookie, else `Accept-Language`)."
    ),
    servers((url = "/api/v1")),
    modifiers(&Additions),
    tags(
        (name = "session", description = "Signing in without cookies"),
        (name = "services", description = "Service items and eligibility"),
        (name = "cases", description = "A resident's applications"),
        (name = "resident", description = "A resident's own records"),
        (name = "registry", description = "The registry, for staff"),
        (name = "meta", description = "This document"),
    )
)]
pub(super) struct ApiDoc;

struct Additions;

impl Modify for Additions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A resident's token from `POST /session`; no CSRF header is needed.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::ctx::SESSION_COOKIE,
                "The session cookie of the portal or workbench sign-in.",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "With a cookie session, every write sends the value of the `zhucan_csrf` cookie.",
            ))),
        );
        for (name, schema) in hand_written_schemas() {
            let schema: Schema =
                serde_json::from_value(schema).expect("hand-written schemas are schema objects");
            components.schemas.insert(name.to_owned(), RefOr::T(schema));
        }
    }
}

/// Schemas of bodies built outside this module.
fn hand_written_schemas() -> Vec<(&'static str, Value)> {
    let text = json!({ "type": "string" });
    let opt = json!({ "type": ["string", "null"] });
    let date = json!({ "type": "string", "format": "date" });
    let opt_date = json!({ "type": ["string", "null"], "format": "date" });
    vec![
        (
            "Errors",
            json!({
                "type": "object",
                "description": "Every error of a refused request. Field errors name the field \
                    (`answers.<key>` for an answer); other errors have `field: null` and a \
                    `detail` in plain words.",
                "required": ["errors"],
                "properties": { "errors": { "type": "array", "items": {
                    "type": "object",
                    "required": ["field", "detail"],
                    "properties": {
                        "field": opt,
                        "detail": text,
                        "message": { "type": "string", "description": "More detail, where there is any." },
                    },
                }}},
            }),
        ),
        (
            "PersonForm",
            json!({
                "type": "object",
                "description": "A person as the registry form states it: every field text, \
                    empty for none. `version` (the one read) is required to change a record.",
                "required": ["resident_id", "name", "division_code"],
                "properties": {
                    "version": text, "resident_id": text, "name": text, "ethnicity": text,
                    "phone": text, "division_code": text, "residence_code": text, "address": text,
                    "household_status": text, "life_status": text, "certificate_no": text,
                    "components": text, "certificate_issued_on": text,
                    "certificate_expires_on": text, "certificate_status": text,
                    "guardian_name": text, "guardian_relation": text, "guardian_phone": text,
                },
            }),
        ),
        (
            "PersonRecord",
            json!({
                "type": "object",
                "description": "A person's full record, with full numbers and the birth date \
                    (the view is audited).",
                "properties": {
                    "id": text, "resident_id": text, "name": text, "sex": text,
                    "birth_date": date, "ethnicity": opt, "phone": opt, "division_code": text,
                    "division_name": opt, "residence_code": opt, "address": opt,
                    "household_status": text, "life_status": text,
                    "version": { "type": "integer" }, "created_at": text, "updated_at": text,
                    "certificate": { "oneOf": [{ "type": "null" }, {
                        "type": "object",
                        "properties": {
                            "id": text, "number": text, "category": text, "components": opt,
                            "grade": text, "issued_on": opt_date, "expires_on": opt_date,
                            "status": text,
                        },
                    }]},
                    "guardians": { "type": "array", "items": {
                        "type": "object",
                        "properties": { "id": text, "name": text, "relation": text, "phone": opt },
                    }},
                    "consents": { "type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "id": text, "purpose": text, "granted_by": text, "recorded_by": text,
                            "granted_at": text, "withdrawn_at": opt,
                        },
                    }},
                },
            }),
        ),
        (
            "PersonPage",
            json!({
                "type": "object",
                "description": "One page of a registry search; identifiers masked (first 3 and \
                    last 4 characters of a resident ID; a certificate number hides its category \
                    and grade too), no birth date.",
                "properties": {
                    "items": { "type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "id": text, "name": text, "sex": text,
                            "age": {
                                "type": "integer",
                                "description": "By the year of birth alone: this year minus \
                                    the birth year.",
                            },
                            "rid_masked": text, "phone_masked": opt, "division_code": text,
                            "division_name": opt, "household_status": text, "life_status": text,
                            "category": opt, "grade": opt, "certificate_masked": opt,
                        },
                    }},
                    "total": { "type": "integer" },
                    "page": { "type": "integer" },
                    "per_page": { "type": "integer" },
                },
            }),
        ),
        (
            "MyRecords",
            json!({
                "type": "object",
                "properties": { "persons": { "type": "array", "items": {
                    "$ref": "#/components/schemas/PersonRecord"
                }}},
            }),
        ),
        (
            "Created",
            json!({ "type": "object", "properties": { "id": text } }),
        ),
        (
            "Saved",
            json!({
                "type": "object",
                "properties": { "id": text, "version": { "type": "integer" } },
            }),
        ),
    ]
}

/// The document, serialized once when the routes are built.
#[derive(Clone)]
pub(super) struct Document(pub Arc<String>);

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object))
)]
pub(super) async fn document(Extension(Document(spec)): Extension<Document>) -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        spec.as_str().to_owned(),
    )
        .into_response()
}
