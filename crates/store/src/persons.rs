//! The registry of disabled residents: persons, their certificates, guardians and consents.
//!
//! Resident IDs, certificate numbers and phone numbers are stored as SM4-GCM ciphertext plus an
//! HMAC-SM3 blind index (for exact lookups) and a masked copy (for lists). Names stay readable
//! so staff can search by them.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use zhucan_core::{
    Category, CertificateNo, CertificateStatus, DivisionCode, DivisionLevel, Grade,
    HouseholdStatus, LifeStatus, MultipleComponents, PersonName, Phone, ResidentId, Sex,
};
use zhucan_crypto::FieldCrypto;

use crate::audit::{self, Actor, AuditRecord, Entry};
use crate::sql::{Arg, Sql, insert_rows};
use crate::{Backend, DbError, Result, Scope, Store, new_id, now_text, parse_stored};

pub(crate) const RID_LABEL: &[u8] = b"person.resident_id";
pub(crate) const CERT_LABEL: &[u8] = b"certificate.number";
/// Persons' and guardians' phones share one index label so one lookup finds both.
pub(crate) const PHONE_INDEX: &[u8] = b"phone";
pub(crate) const PERSON_PHONE: &[u8] = b"person.phone";
pub(crate) const GUARDIAN_PHONE: &[u8] = b"guardian.phone";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInput {
    pub number: CertificateNo,
    pub components: Option<MultipleComponents>,
    pub issued_on: Option<time::Date>,
    pub expires_on: Option<time::Date>,
    pub status: CertificateStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianInput {
    pub name: PersonName,
    pub relation: String,
    pub phone: Option<Phone>,
}

/// Everything a create, edit or import row says about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInput {
    pub resident_id: ResidentId,
    pub name: PersonName,
    pub ethnicity: Option<String>,
    pub phone: Option<Phone>,
    pub division_code: DivisionCode,
    pub residence_code: Option<DivisionCode>,
    pub address: Option<String>,
    pub household_status: HouseholdStatus,
    pub life_status: LifeStatus,
    pub certificate: Option<CertificateInput>,
    pub guardian: Option<GuardianInput>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonSummary {
    pub id: String,
    pub name: String,
    pub sex: String,
    /// Age by the year of birth alone (this year minus that year): a list says no more about
    /// the birth date than that, which the masked number does not complete.
    pub age: i64,
    pub rid_masked: String,
    pub phone_masked: Option<String>,
    pub division_code: String,
    pub division_name: Option<String>,
    pub household_status: HouseholdStatus,
    pub life_status: LifeStatus,
    pub category: Option<Category>,
    pub grade: Option<Grade>,
    pub certificate_masked: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateRecord {
    pub id: String,
    pub number: CertificateNo,
    pub category: Category,
    pub components: Option<MultipleComponents>,
    pub grade: Grade,
    pub issued_on: Option<String>,
    pub expires_on: Option<String>,
    pub status: CertificateStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct GuardianRecord {
    pub id: String,
    pub name: PersonName,
    pub relation: String,
    pub phone: Option<Phone>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsentRecord {
    pub id: String,
    pub purpose: String,
    pub granted_by: String,
    pub recorded_by: String,
    pub granted_at: String,
    pub withdrawn_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonRecord {
    pub id: String,
    pub resident_id: ResidentId,
    pub name: PersonName,
    pub sex: Sex,
    /// From the decrypted resident ID: the record is the one place (audited) that shows it.
    pub birth_date: String,
    pub ethnicity: Option<String>,
    pub phone: Option<Phone>,
    pub division_code: DivisionCode,
    pub division_name: Option<String>,
    pub residence_code: Option<DivisionCode>,
    pub address: Option<String>,
    pub household_status: HouseholdStatus,
    pub life_status: LifeStatus,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub certificate: Option<CertificateRecord>,
    pub guardians: Vec<GuardianRecord>,
    pub consents: Vec<ConsentRecord>,
}

impl PersonRecord {
    /// Eligibility facts from the record. A person in this registry is registered in the
    /// district; they live in it unless another residence outside it is recorded.
    pub fn facts(&self, today: time::Date) -> zhucan_services::Facts {
        let certificate = self
            .certificate
            .as_ref()
            .map(|c| zhucan_services::CertificateFacts {
                category: c.category,
                components: c.components.clone(),
                grade: c.grade,
                status: c.status,
                // A missing expiry counts as ten years from issue, or as today when that is
                // unknown too.
                expires_on: c
                    .expires_on
                    .as_deref()
                    .and_then(parse_date)
                    .or_else(|| {
                        c.issued_on
                            .as_deref()
                            .and_then(parse_date)
                            .map(zhucan_services::ten_years_from)
                    })
                    .unwrap_or(today),
            });
        let person = zhucan_services::Person {
            resident_id: self.resident_id.clone(),
            household_status: self.household_status,
            life_status: self.life_status,
            resident: true,
            residence_in_district: self
                .residence_code
                .as_ref()
                .is_none_or(|r| self.division_code.district().contains(r)),
            certificate,
        };
        zhucan_services::Facts::new(&person, today)
    }

    /// The record as an edit would state it (for pre-filled forms and before/after audits).
    pub fn to_input(&self) -> PersonInput {
        PersonInput {
            resident_id: self.resident_id.clone(),
            name: self.name.clone(),
            ethnicity: self.ethnicity.clone(),
            phone: self.phone.clone(),
            division_code: self.division_code.clone(),
            residence_code: self.residence_code.clone(),
            address: self.address.clone(),
            household_status: self.household_status,
            life_status: self.life_status,
            certificate: self.certificate.as_ref().map(|c| CertificateInput {
                number: c.number.clone(),
                components: c.components.clone(),
                issued_on: c.issued_on.as_deref().and_then(parse_date),
                expires_on: c.expires_on.as_deref().and_then(parse_date),
                status: c.status,
            }),
            guardian: self.guardians.first().map(|g| GuardianInput {
                name: g.name.clone(),
                relation: g.relation.clone(),
                phone: g.phone.clone(),
            }),
        }
    }
}

/// How staff look someone up: the search box is parsed into one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    Name(String),
    ResidentId(ResidentId),
    Certificate(CertificateNo),
    Phone(Phone),
}

impl SearchTerm {
    /// A full ID, certificate number or phone is matched exactly; anything else as part of a name.
    pub fn parse(text: &str) -> Option<SearchTerm> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(if let Ok(id) = ResidentId::parse(text) {
            SearchTerm::ResidentId(id)
        } else if let Ok(no) = CertificateNo::parse(text) {
            SearchTerm::Certificate(no)
        } else if let Ok(phone) = Phone::parse(text) {
            SearchTerm::Phone(phone)
        } else {
            SearchTerm::Name(text.to_owned())
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonFilter {
    pub term: Option<SearchTerm>,
    pub category: Option<Category>,
    pub grade: Option<Grade>,
    /// A street or community (or the district) inside the caller's scope.
    pub division: Option<DivisionCode>,
    pub household_status: Option<HouseholdStatus>,
    pub life_status: Option<LifeStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

pub(crate) fn parse_date(s: &str) -> Option<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

pub(crate) fn date_text(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Restricts `p` (persons) to a division by the column of its level.
fn push_division(sql: &mut Sql, code: &DivisionCode) {
    let column = match code.level() {
        DivisionLevel::District => "p.district_code",
        DivisionLevel::Street => "p.street_code",
        DivisionLevel::Community => "p.community_code",
    };
    sql.push(" AND ")
        .push(column)
        .push(" = ")
        .bind(code.as_str());
}

pub(crate) fn push_scope(sql: &mut Sql, scope: &Scope) {
    match scope {
        Scope::All => {}
        Scope::Division(code) => push_division(sql, code),
        Scope::Persons(ids) if ids.is_empty() => {
            sql.push(" AND 1 = 0");
        }
        Scope::Persons(ids) => {
            sql.push(" AND p.id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(id.as_str());
            }
            sql.push(")");
        }
    }
}

/// Whether a division lies inside a scope (for creates and moves, which have no row to filter yet).
pub(crate) fn scope_allows(scope: &Scope, division: &DivisionCode) -> bool {
    match scope {
        Scope::All => true,
        Scope::Division(code) => code.contains(division),
        Scope::Persons(_) => false,
    }
}

/// The masked snapshot kept in the audit log: enough to see what changed, no full numbers.
pub(crate) fn snapshot(p: &PersonInput) -> Value {
    json!({
        "name": p.name.as_str(),
        "resident_id": p.resident_id.masked(),
        "ethnicity": p.ethnicity,
        "phone": p.phone.as_ref().map(Phone::masked),
        "division_code": p.division_code.as_str(),
        "residence_code": p.residence_code.as_ref().map(DivisionCode::as_str),
        "address": p.address,
        "household_status": p.household_status.slug(),
        "life_status": p.life_status.slug(),
        "certificate": p.certificate.as_ref().map(|c| json!({
            "number": c.number.masked(),
            "category": c.number.category().slug(),
            "components": c.components.as_ref().map(|m| m.to_string()),
            "grade": c.number.grade().value(),
            "issued_on": c.issued_on.map(date_text),
            "expires_on": c.expires_on.map(date_text),
            "status": c.status.slug(),
        })),
        "guardian": p.guardian.as_ref().map(|g| json!({
            "name": g.name.as_str(),
            "relation": g.relation,
            "phone": g.phone.as_ref().map(Phone::masked),
        })),
    })
}

/// Column values of a person (and its certificate and guardian), encrypted and indexed.
pub(crate) struct Encoded {
    pub person: Vec<Arg>,
    pub rid_index: Vec<u8>,
    pub certificate: Option<EncodedCertificate>,
    pub guardian: Option<Vec<Arg>>,
}

pub(crate) struct EncodedCertificate {
    pub number_index: Vec<u8>,
    /// Columns after `id, person_id`.
    pub columns: Vec<Arg>,
}

pub(crate) const PERSON_COLUMNS: &str = "id, rid_enc, rid_index, rid_masked, name, sex, birth_year, ethnicity, \
     phone_enc, phone_index, phone_masked, district_code, street_code, community_code, division_code, \
     residence_code, address, household_status, life_status, version, created_at, updated_at";
pub(crate) const CERTIFICATE_COLUMNS: &str = "id, person_id, number_enc, number_index, number_masked, category, \
     components, grade, replacement, issued_on, expires_on, status, is_current, created_at, updated_at";
pub(crate) const GUARDIAN_COLUMNS: &str =
    "id, person_id, name, relation, phone_enc, phone_index, phone_masked, created_at";

fn phone_columns(crypto: &FieldCrypto, label: &[u8], phone: Option<&Phone>) -> [Arg; 3] {
    [
        phone.map(|p| crypto.encrypt_str(label, p.as_str())).into(),
        phone
            .map(|p| crypto.blind_index(PHONE_INDEX, p.as_str()))
            .into(),
        phone.map(Phone::masked).into(),
    ]
}

impl Encoded {
    pub(crate) fn new(crypto: &FieldCrypto, id: &str, p: &PersonInput, now: &str) -> Encoded {
        let rid = p.resident_id.as_str();
        let rid_index = crypto.blind_index(RID_LABEL, rid);
        let division = &p.division_code;
        let at_level = |level: DivisionLevel| {
            division
                .chain()
                .into_iter()
                .find(|d| d.level() == level)
                .map(|d| d.as_str().to_owned())
        };
        let mut person: Vec<Arg> = vec![
            id.into(),
            crypto.encrypt_str(RID_LABEL, rid).into(),
            rid_index.clone().into(),
            p.resident_id.masked().into(),
            p.name.as_str().into(),
            p.resident_id.sex().as_str().into(),
            i64::from(p.resident_id.birth_year()).into(),
            p.ethnicity.clone().into(),
        ];
        person.extend(phone_columns(crypto, PERSON_PHONE, p.phone.as_ref()));
        person.extend([
            division.district().as_str().into(),
            at_level(DivisionLevel::Street).into(),
            at_level(DivisionLevel::Community).into(),
            division.as_str().into(),
            p.residence_code
                .as_ref()
                .map(|d| d.as_str().to_owned())
                .into(),
            p.address.clone().into(),
            p.household_status.slug().into(),
            p.life_status.slug().into(),
            Arg::Int(1),
            now.into(),
            now.into(),
        ]);
        let certificate = p.certificate.as_ref().map(|c| {
            let number = c.number.as_str();
            let number_index = crypto.blind_index(CERT_LABEL, number);
            EncodedCertificate {
                columns: vec![
                    crypto.encrypt_str(CERT_LABEL, number).into(),
                    number_index.clone().into(),
                    c.number.masked().into(),
                    i64::from(c.number.category().code()).into(),
                    c.components.as_ref().map(|m| m.to_string()).into(),
                    i64::from(c.number.grade().value()).into(),
                    i64::from(c.number.replacement().unwrap_or(0)).into(),
                    c.issued_on.map(date_text).into(),
                    c.expires_on.map(date_text).into(),
                    c.status.slug().into(),
                    Arg::Int(1),
                    now.into(),
                    now.into(),
                ],
                number_index,
            }
        });
        let guardian = p.guardian.as_ref().map(|g| {
            let mut cols: Vec<Arg> = vec![g.name.as_str().into(), g.relation.as_str().into()];
            cols.extend(phone_columns(crypto, GUARDIAN_PHONE, g.phone.as_ref()));
            cols.push(now.into());
            cols
        });
        Encoded {
            person,
            rid_index,
            certificate,
            guardian,
        }
    }
}

/// A child table's row: its own id and the person's, then its columns.
pub(crate) fn child_row(person_id: &str, columns: &[Arg]) -> Vec<Arg> {
    let mut row = vec![Arg::from(new_id()), Arg::from(person_id)];
    row.extend(columns.iter().cloned());
    row
}

/// Inserts new persons with their certificates and guardians, many rows per statement.
pub(crate) async fn insert_encoded(
    conn: &mut sqlx::AnyConnection,
    rows: &[&(String, Encoded)],
) -> Result<()> {
    let persons: Vec<&[Arg]> = rows.iter().map(|(_, e)| e.person.as_slice()).collect();
    insert_rows(conn, "persons", PERSON_COLUMNS, &persons).await?;
    let certificates: Vec<Vec<Arg>> = rows
        .iter()
        .filter_map(|(id, e)| e.certificate.as_ref().map(|c| child_row(id, &c.columns)))
        .collect();
    insert_rows(conn, "certificates", CERTIFICATE_COLUMNS, &certificates).await?;
    let guardians: Vec<Vec<Arg>> = rows
        .iter()
        .filter_map(|(id, e)| e.guardian.as_ref().map(|g| child_row(id, g)))
        .collect();
    insert_rows(conn, "guardians", GUARDIAN_COLUMNS, &guardians).await
}

/// Rewrites an existing person from an input; the caller has checked the version.
/// What an update does with a certificate or guardian the input leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Absent {
    /// An edit states the whole record: no certificate means none is current, no guardian none.
    Clear,
    /// An import row may simply lack those columns: what is stored stays.
    Keep,
}

pub(crate) async fn update_encoded(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    e: &Encoded,
    absent: Absent,
) -> Result<()> {
    // Person columns after id, minus version and created_at (kept), with updated_at last.
    let names: Vec<&str> = PERSON_COLUMNS.split(", ").collect();
    let mut sql = Sql::new("UPDATE persons SET ");
    let mut first = true;
    for (name, arg) in names.iter().zip(&e.person).skip(1) {
        if matches!(*name, "version" | "created_at") {
            continue;
        }
        if !first {
            sql.push(", ");
        }
        first = false;
        sql.push(name).push(" = ").bind(arg.clone());
    }
    sql.push(", version = version + 1 WHERE id = ").bind(id);
    sql.query(Backend::of(conn)).execute(&mut *conn).await?;

    if let Some(c) = &e.certificate {
        let current: Option<String> = sqlx::query_scalar(
            "SELECT id FROM certificates WHERE person_id = $1 AND number_index = $2",
        )
        .bind(id)
        .bind(c.number_index.as_slice())
        .fetch_optional(&mut *conn)
        .await?;
        match current {
            Some(cert_id) => {
                let names: Vec<&str> = CERTIFICATE_COLUMNS.split(", ").skip(2).collect();
                let mut sql = Sql::new("UPDATE certificates SET ");
                for (i, (name, arg)) in names.iter().zip(&c.columns).enumerate() {
                    if *name == "created_at" {
                        continue;
                    }
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.push(name).push(" = ").bind(arg.clone());
                }
                sql.push(" WHERE id = ").bind(cert_id);
                sql.query(Backend::of(conn)).execute(&mut *conn).await?;
                sqlx::query("UPDATE certificates SET is_current = 0 WHERE person_id = $1 AND number_index <> $2")
                    .bind(id)
                    .bind(c.number_index.as_slice())
                    .execute(&mut *conn)
                    .await?;
            }
            None => {
                // A new number (new category, grade or replacement): the old one stays as history.
                sqlx::query("UPDATE certificates SET is_current = 0 WHERE person_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                insert_rows(
                    conn,
                    "certificates",
                    CERTIFICATE_COLUMNS,
                    &[child_row(id, &c.columns)],
                )
                .await?;
            }
        }
    } else if absent == Absent::Clear {
        // The history stays; nothing is current any more.
        sqlx::query("UPDATE certificates SET is_current = 0 WHERE person_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    if e.guardian.is_some() || absent == Absent::Clear {
        sqlx::query("DELETE FROM guardians WHERE person_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(g) = &e.guardian {
        insert_rows(conn, "guardians", GUARDIAN_COLUMNS, &[child_row(id, g)]).await?;
    }
    Ok(())
}

/// Ends in `WHERE `: the caller adds the condition.
const PERSON_SELECT: &str = "SELECT p.*, d.name AS division_name FROM persons p \
     LEFT JOIN divisions d ON d.code = p.division_code WHERE ";

const SUMMARY_FROM: &str = " FROM persons p \
     LEFT JOIN certificates c ON c.person_id = p.id AND c.is_current = 1 \
     LEFT JOIN divisions d ON d.code = p.division_code WHERE 1 = 1";

fn push_filter(sql: &mut Sql, crypto: &FieldCrypto, scope: &Scope, f: &PersonFilter) {
    push_scope(sql, scope);
    if let Some(division) = &f.division {
        push_division(sql, division);
    }
    match &f.term {
        None => {}
        Some(SearchTerm::Name(name)) => {
            sql.push(" AND p.name LIKE ")
                .bind(contains_pattern(name))
                .push(" ESCAPE '\\'");
        }
        Some(SearchTerm::ResidentId(id)) => {
            sql.push(" AND p.rid_index = ")
                .bind(crypto.blind_index(RID_LABEL, id.as_str()));
        }
        Some(SearchTerm::Certificate(no)) => {
            sql.push(" AND p.id IN (SELECT person_id FROM certificates WHERE number_index = ")
                .bind(crypto.blind_index(CERT_LABEL, no.as_str()))
                .push(")");
        }
        Some(SearchTerm::Phone(phone)) => {
            sql.push(" AND p.phone_index = ")
                .bind(crypto.blind_index(PHONE_INDEX, phone.as_str()));
        }
    }
    if let Some(category) = f.category {
        sql.push(" AND c.category = ")
            .bind(i64::from(category.code()));
    }
    if let Some(grade) = f.grade {
        sql.push(" AND c.grade = ").bind(i64::from(grade.value()));
    }
    if let Some(status) = f.household_status {
        sql.push(" AND p.household_status = ").bind(status.slug());
    }
    if let Some(status) = f.life_status {
        sql.push(" AND p.life_status = ").bind(status.slug());
    }
}

/// A LIKE pattern matching `text` anywhere, taken literally: `%`, `_` and the escape character
/// itself are escaped (the query says `ESCAPE '\'`, which both backends understand).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn summary(row: &sqlx::any::AnyRow, this_year: i64) -> Result<PersonSummary> {
    let category: Option<i64> = row.try_get("category")?;
    let grade: Option<i64> = row.try_get("grade")?;
    Ok(PersonSummary {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        sex: row.try_get("sex")?,
        age: this_year - row.try_get::<i64, _>("birth_year")?,
        rid_masked: row.try_get("rid_masked")?,
        phone_masked: row.try_get("phone_masked")?,
        division_code: row.try_get("division_code")?,
        division_name: row.try_get("division_name")?,
        household_status: parse_stored(
            "household_status",
            &row.try_get::<String, _>("household_status")?,
        )?,
        life_status: parse_stored("life_status", &row.try_get::<String, _>("life_status")?)?,
        category: category
            .map(|c| parse_stored("category", &c.to_string()))
            .transpose()?,
        grade: grade
            .map(|g| parse_stored("grade", &g.to_string()))
            .transpose()?,
        certificate_masked: row.try_get("number_masked")?,
    })
}

impl Store {
    fn decrypt(&self, label: &[u8], blob: &[u8]) -> Result<String> {
        self.crypto
            .decrypt_string(label, blob)
            .map_err(|e| DbError::Corrupt(format!("{}: {e}", String::from_utf8_lossy(label))))
    }

    pub async fn search_persons(
        &self,
        scope: &Scope,
        filter: &PersonFilter,
        page: i64,
        per_page: i64,
    ) -> Result<Page<PersonSummary>> {
        let page = page.max(1);
        let mut count = Sql::new(&format!("SELECT COUNT(*){SUMMARY_FROM}"));
        push_filter(&mut count, &self.crypto, scope, filter);
        let total: i64 = count
            .query(self.backend)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;

        let mut sql = Sql::new(&format!(
            "SELECT p.id, p.name, p.sex, p.birth_year, p.rid_masked, p.phone_masked, p.division_code, \
             d.name AS division_name, p.household_status, p.life_status, c.category, c.grade, c.number_masked{SUMMARY_FROM}"
        ));
        push_filter(&mut sql, &self.crypto, scope, filter);
        let this_year = i64::from(zhucan_core::today_shanghai().year());
        sql.push(" ORDER BY p.name, p.id LIMIT ")
            .bind(per_page)
            .push(" OFFSET ")
            .bind((page - 1) * per_page);
        let items = sql
            .query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| summary(row, this_year))
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            page,
            per_page,
        })
    }

    /// A person's full record, if inside `scope`; the view is written to the audit log.
    pub async fn view_person(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
    ) -> Result<PersonRecord> {
        let record = self.person(scope, id).await?;
        self.audit(
            actor,
            &[Entry {
                action: "view",
                entity: "person",
                entity_id: id.to_owned(),
                division_code: Some(record.division_code.as_str().to_owned()),
                before: None,
                after: None,
            }],
        )
        .await?;
        Ok(record)
    }

    /// Reads a record without auditing: for code paths that audit the surrounding action.
    pub(crate) async fn person(&self, scope: &Scope, id: &str) -> Result<PersonRecord> {
        let mut sql = Sql::new(PERSON_SELECT);
        sql.push("p.id = ").bind(id);
        push_scope(&mut sql, scope);
        self.records(sql).await?.pop().ok_or(DbError::NotFound)
    }

    /// Records by id, without auditing: for imports, which compare a row with what is stored
    /// and audit what they change. Four queries for every 500 persons.
    pub(crate) async fn persons_by_id(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, PersonRecord>> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new(PERSON_SELECT);
            sql.push("p.id IN ")
                .bind_tuple(chunk.iter().map(|&id| Arg::from(id)));
            found.extend(
                self.records(sql)
                    .await?
                    .into_iter()
                    .map(|r| (r.id.clone(), r)),
            );
        }
        Ok(found)
    }

    /// Full records for the persons `sql` selects: four queries however many persons, with their
    /// current certificates, guardians and consents read by `person_id IN (…)`.
    async fn records(&self, mut sql: Sql) -> Result<Vec<PersonRecord>> {
        let rows = sql.query(self.backend).fetch_all(&self.pool).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let children = |query: &str| {
            let mut sql = Sql::new(query);
            sql.push(" person_id IN ")
                .bind_tuple(ids.iter().map(|id| Arg::from(id.as_str())));
            sql
        };
        let mut certificates: HashMap<String, CertificateRecord> = HashMap::new();
        let mut q = children(
            "SELECT person_id, id, number_enc, components, issued_on, expires_on, status FROM certificates \
             WHERE is_current = 1 AND",
        );
        for c in q.query(self.backend).fetch_all(&self.pool).await? {
            let number: CertificateNo = parse_stored(
                "certificate",
                &self.decrypt(CERT_LABEL, &c.try_get::<Vec<u8>, _>("number_enc")?)?,
            )?;
            let components: Option<String> = c.try_get("components")?;
            certificates.insert(
                c.try_get("person_id")?,
                CertificateRecord {
                    id: c.try_get("id")?,
                    category: number.category(),
                    grade: number.grade(),
                    number,
                    components: components
                        .map(|s| parse_stored("components", &s))
                        .transpose()?,
                    issued_on: c.try_get("issued_on")?,
                    expires_on: c.try_get("expires_on")?,
                    status: parse_stored("certificate status", &c.try_get::<String, _>("status")?)?,
                },
            );
        }
        let mut guardians: HashMap<String, Vec<GuardianRecord>> = HashMap::new();
        let mut q = children(
            "SELECT person_id, id, name, relation, phone_enc, created_at FROM guardians WHERE",
        );
        q.push(" ORDER BY created_at");
        for g in q.query(self.backend).fetch_all(&self.pool).await? {
            guardians
                .entry(g.try_get("person_id")?)
                .or_default()
                .push(GuardianRecord {
                    id: g.try_get("id")?,
                    name: parse_stored("guardian name", &g.try_get::<String, _>("name")?)?,
                    relation: g.try_get("relation")?,
                    phone: g
                        .try_get::<Option<Vec<u8>>, _>("phone_enc")?
                        .map(|b| {
                            self.decrypt(GUARDIAN_PHONE, &b)
                                .and_then(|s| parse_stored("guardian phone", &s))
                        })
                        .transpose()?,
                });
        }
        let mut consents: HashMap<String, Vec<ConsentRecord>> = HashMap::new();
        let mut q = children(
            "SELECT person_id, id, purpose, granted_by, recorded_by, granted_at, withdrawn_at FROM consents WHERE",
        );
        q.push(" ORDER BY granted_at DESC");
        for c in q.query(self.backend).fetch_all(&self.pool).await? {
            consents
                .entry(c.try_get("person_id")?)
                .or_default()
                .push(ConsentRecord {
                    id: c.try_get("id")?,
                    purpose: c.try_get("purpose")?,
                    granted_by: c.try_get("granted_by")?,
                    recorded_by: c.try_get("recorded_by")?,
                    granted_at: c.try_get("granted_at")?,
                    withdrawn_at: c.try_get("withdrawn_at")?,
                });
        }
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let resident_id: ResidentId = parse_stored(
                    "resident_id",
                    &self.decrypt(RID_LABEL, &row.try_get::<Vec<u8>, _>("rid_enc")?)?,
                )?;
                let residence: Option<String> = row.try_get("residence_code")?;
                Ok(PersonRecord {
                    sex: resident_id.sex(),
                    birth_date: date_text(resident_id.birth_date()),
                    resident_id,
                    name: parse_stored("name", &row.try_get::<String, _>("name")?)?,
                    ethnicity: row.try_get("ethnicity")?,
                    phone: row
                        .try_get::<Option<Vec<u8>>, _>("phone_enc")?
                        .map(|b| {
                            self.decrypt(PERSON_PHONE, &b)
                                .and_then(|s| parse_stored("phone", &s))
                        })
                        .transpose()?,
                    division_code: parse_stored(
                        "division_code",
                        &row.try_get::<String, _>("division_code")?,
                    )?,
                    division_name: row.try_get("division_name")?,
                    residence_code: residence
                        .map(|s| parse_stored("residence_code", &s))
                        .transpose()?,
                    address: row.try_get("address")?,
                    household_status: parse_stored(
                        "household_status",
                        &row.try_get::<String, _>("household_status")?,
                    )?,
                    life_status: parse_stored(
                        "life_status",
                        &row.try_get::<String, _>("life_status")?,
                    )?,
                    version: row.try_get("version")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    certificate: certificates.remove(&id),
                    guardians: guardians.remove(&id).unwrap_or_default(),
                    consents: consents.remove(&id).unwrap_or_default(),
                    id,
                })
            })
            .collect()
    }

    /// Persons belong to a division of the table; the form's list offers only those, but the
    /// API and hand-made requests can name any code.
    async fn check_division(
        &self,
        conn: &mut sqlx::AnyConnection,
        code: &DivisionCode,
    ) -> Result<()> {
        let known: Option<String> =
            sqlx::query_scalar("SELECT code FROM divisions WHERE code = $1")
                .bind(code.as_str())
                .fetch_optional(&mut *conn)
                .await?;
        known
            .map(|_| ())
            .ok_or_else(|| DbError::UnknownDivision(code.as_str().to_owned()))
    }

    async fn id_for_resident(
        &self,
        conn: &mut sqlx::AnyConnection,
        rid_index: &[u8],
    ) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM persons WHERE rid_index = $1")
                .bind(rid_index)
                .fetch_optional(&mut *conn)
                .await?,
        )
    }

    async fn certificate_taken(
        &self,
        conn: &mut sqlx::AnyConnection,
        e: &Encoded,
        person_id: &str,
    ) -> Result<bool> {
        let Some(c) = &e.certificate else {
            return Ok(false);
        };
        let owner: Option<String> =
            sqlx::query_scalar("SELECT person_id FROM certificates WHERE number_index = $1")
                .bind(c.number_index.as_slice())
                .fetch_optional(&mut *conn)
                .await?;
        Ok(owner.is_some_and(|o| o != person_id))
    }

    pub async fn create_person(
        &self,
        actor: &Actor,
        scope: &Scope,
        input: &PersonInput,
    ) -> Result<String> {
        if !scope_allows(scope, &input.division_code) {
            return Err(DbError::NotFound);
        }
        let id = new_id();
        let encoded = Encoded::new(&self.crypto, &id, input, &now_text());
        let mut w = self.write_tx().await?;
        self.check_division(&mut w.tx, &input.division_code).await?;
        if self
            .id_for_resident(&mut w.tx, &encoded.rid_index)
            .await?
            .is_some()
        {
            return Err(DbError::Duplicate("resident ID"));
        }
        if self.certificate_taken(&mut w.tx, &encoded, &id).await? {
            return Err(DbError::Duplicate("certificate number"));
        }
        insert_encoded(&mut w.tx, &[&(id.clone(), encoded)]).await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "create",
                entity: "person",
                entity_id: id.clone(),
                division_code: Some(input.division_code.as_str().to_owned()),
                before: None,
                after: Some(snapshot(input)),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(id)
    }

    /// Saves an edit made from version `expected_version`; a newer save by someone else is a
    /// [`DbError::Conflict`], never silently overwritten.
    pub async fn update_person(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        input: &PersonInput,
    ) -> Result<()> {
        let before = self.person(scope, id).await?;
        if !scope_allows(scope, &input.division_code) {
            return Err(DbError::NotFound);
        }
        let encoded = Encoded::new(&self.crypto, id, input, &now_text());
        let mut w = self.write_tx().await?;
        self.check_division(&mut w.tx, &input.division_code).await?;
        let current: i64 = sqlx::query_scalar("SELECT version FROM persons WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *w.tx)
            .await?;
        if current != expected_version {
            return Err(DbError::Conflict { current });
        }
        if self
            .id_for_resident(&mut w.tx, &encoded.rid_index)
            .await?
            .is_some_and(|other| other != id)
        {
            return Err(DbError::Duplicate("resident ID"));
        }
        if self.certificate_taken(&mut w.tx, &encoded, id).await? {
            return Err(DbError::Duplicate("certificate number"));
        }
        update_encoded(&mut w.tx, id, &encoded, Absent::Clear).await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "update",
                entity: "person",
                entity_id: id.to_owned(),
                division_code: Some(input.division_code.as_str().to_owned()),
                before: Some(snapshot(&before.to_input())),
                after: Some(snapshot(input)),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    pub async fn record_consent(
        &self,
        actor: &Actor,
        scope: &Scope,
        person_id: &str,
        purpose: &str,
        granted_by: &str,
    ) -> Result<()> {
        let person = self.person(scope, person_id).await?;
        let mut w = self.write_tx().await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO consents (id, person_id, purpose, granted_by, recorded_by, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(person_id)
        .bind(purpose)
        .bind(granted_by)
        .bind(actor.id.as_str())
        .bind(now_text())
        .execute(&mut *w.tx)
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "consent",
                entity: "person",
                entity_id: person_id.to_owned(),
                division_code: Some(person.division_code.as_str().to_owned()),
                before: None,
                after: Some(json!({ "purpose": purpose, "granted_by": granted_by })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// The change history of a person inside `scope`, newest first.
    pub async fn person_history(&self, scope: &Scope, id: &str) -> Result<Vec<AuditRecord>> {
        self.person(scope, id).await?;
        self.audit_for("person", id).await
    }

    /// Persons a phone number may act for: the holder and anyone whose guardian it is.
    pub async fn persons_for_phone(&self, phone_index: &[u8]) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM persons WHERE phone_index = $1 \
             UNION SELECT person_id FROM guardians WHERE phone_index = $2",
        )
        .bind(phone_index)
        .bind(phone_index)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Decrypted records in id order after `after_id`, for exports (which audit themselves).
    pub async fn export_page(
        &self,
        scope: &Scope,
        after_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PersonRecord>> {
        let mut sql = Sql::new(PERSON_SELECT);
        sql.push("p.id > ").bind(after_id.unwrap_or(""));
        push_scope(&mut sql, scope);
        sql.push(" ORDER BY p.id LIMIT ").bind(limit);
        self.records(sql).await
    }

    pub async fn count_persons(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM persons")
            .fetch_one(&self.pool)
            .await?)
    }
}
