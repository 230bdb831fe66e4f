//! The demo district: Longquanyi's divisions, 15,790 synthetic residents, demo staff accounts and
//! a demo resident, seeded once on first start.

use std::net::SocketAddr;

use anyhow::Context;
use zhucan_core::{
    Category, CertificateNo, CertificateStatus, DivisionCode, Grade, HouseholdStatus, LifeStatus,
    PersonName, Phone, ResidentId, Role, Username,
};
use zhucan_store::{Actor, CertificateInput, NewAccount, PersonInput, Scope, SearchTerm, Store};

/// Registered residents in the demo district, as in the district's 2022 report.
pub const RESIDENTS: usize = 15_790;
const SEED: u64 = 2026;
/// Demo mode only: every demo account has this password.
pub const PASSWORD: &str = "Demo@2026";
const SEEDED: &str = "demo_seeded";

const ACCOUNTS: [(&str, &str, Role, &str); 5] = [
    ("admin", "系统管理员", Role::Admin, "510112"),
    ("district", "区残联审核员", Role::DistrictReviewer, "510112"),
    (
        "street",
        "龙泉街道审核员",
        Role::StreetReviewer,
        "510112001",
    ),
    (
        "community",
        "社区专职委员",
        Role::CommunityWorker,
        "510112001001",
    ),
    ("provider", "辅具适配服务机构", Role::Provider, "510112"),
];

/// The demo resident who signs in with a phone and one-time code.
const RESIDENT_PHONE: &str = "13800138000";
const RESIDENT_ID_PARTS: (&str, (i32, u8, u8), u16) = ("510112", (1968, 5, 12), 321);

fn demo_resident() -> anyhow::Result<PersonInput> {
    let (address, (y, m, d), seq) = RESIDENT_ID_PARTS;
    let birth = time::Date::from_calendar_date(y, time::Month::try_from(m)?, d)?;
    let id = ResidentId::from_parts(address, birth, seq)?;
    let number = CertificateNo::new(id.clone(), Category::Physical, Grade::Two);
    Ok(PersonInput {
        resident_id: id,
        name: PersonName::parse("张明")?,
        ethnicity: Some("汉族".into()),
        phone: Some(Phone::parse(RESIDENT_PHONE)?),
        division_code: DivisionCode::parse("510112001001")?,
        residence_code: None,
        address: Some("龙泉驿区龙泉街道驿都社区 8 栋 2 单元 301".into()),
        household_status: HouseholdStatus::Dibao,
        life_status: LifeStatus::Alive,
        certificate: Some(CertificateInput {
            number,
            components: None,
            issued_on: time::Date::from_calendar_date(2021, time::Month::March, 15).ok(),
            expires_on: time::Date::from_calendar_date(2031, time::Month::March, 15).ok(),
            status: CertificateStatus::Valid,
        }),
        guardian: None,
    })
}

/// Seeds on first start; returns how many residents were created, or `None` if already seeded.
pub async fn seed(store: &Store) -> anyhow::Result<Option<u64>> {
    if store.meta(SEEDED).await?.is_some() {
        return Ok(None);
    }
    // Hash the passwords (deliberately slow) while the residents are written.
    let hashes =
        tokio::task::spawn_blocking(|| ACCOUNTS.map(|_| zhucan_web::hash_password(PASSWORD)));
    let residents = zhucan_jobs::synthetic::seed_demo(store, RESIDENTS - 1, SEED).await?;
    let actor = Actor::system("demo");
    store
        .create_person(&actor, &Scope::All, &demo_resident()?)
        .await
        .context("demo resident")?;
    for ((username, name, role, scope), hash) in ACCOUNTS.into_iter().zip(hashes.await?) {
        store
            .create_account(
                &actor,
                NewAccount {
                    username: Username::parse(username)?,
                    display_name: name.to_owned(),
                    password_hash: hash?,
                    role,
                    scope: DivisionCode::parse(scope)?,
                },
            )
            .await?;
    }
    store.set_meta(SEEDED, "1").await?;
    Ok(Some(residents + 1))
}

pub async fn print_accounts(store: &Store, listen: SocketAddr) -> anyhow::Result<()> {
    let resident = store
        .search_persons(
            &Scope::All,
            &zhucan_store::PersonFilter {
                term: SearchTerm::parse(RESIDENT_PHONE),
                ..Default::default()
            },
            1,
            1,
        )
        .await?;
    println!("zhucan demo: http://{listen}/  (workbench: http://{listen}/staff)");
    println!("demo accounts (password {PASSWORD}, demo mode only):");
    for (username, name, role, scope) in ACCOUNTS {
        println!("  {username:<10} {name} · {} · scope {scope}", role.slug());
    }
    if let Some(p) = resident.items.first() {
        println!(
            "demo resident: {} — sign in at http://{listen}/login with phone {RESIDENT_PHONE}; the one-time code is printed in this log and in the admin outbox",
            p.name
        );
    }
    Ok(())
}
