//! Form handling shared by every page: field errors for the error summary, and the CSRF token.

use zhucan_core::{Lang, Localized};

pub struct FieldError {
    /// The `id` of the input, so the summary can link to it.
    pub field: String,
    pub message: String,
}

#[derive(Default)]
pub struct FormErrors {
    pub items: Vec<FieldError>,
}

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.items.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.items
            .iter()
            .find(|e| e.field == field)
            .map(|e| &e.message)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Parses a required field, recording why it is wrong.
    pub fn required<T, E: Localized>(
        &mut self,
        lang: Lang,
        field: &str,
        missing: (&str, &str),
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        if value.trim().is_empty() {
            self.add(
                field,
                if lang == Lang::Zh {
                    missing.0
                } else {
                    missing.1
                },
            );
            return None;
        }
        self.optional(lang, field, value, parse).flatten()
    }

    /// Parses an optional field: empty is `Some(None)`, wrong is `None` with an error recorded.
    pub fn optional<T, E: Localized>(
        &mut self,
        lang: Lang,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        let value = value.trim();
        if value.is_empty() {
            return Some(None);
        }
        match parse(value) {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                self.add(field, e.message(lang));
                None
            }
        }
    }

    /// The API's `{"field":…,"detail":…}` list.
    pub fn into_fields(self) -> Vec<(String, String)> {
        self.items
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }
}
