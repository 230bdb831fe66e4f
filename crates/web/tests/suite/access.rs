//! Who may reach what: every route against every role, and scope on records.

use axum::http::{Method, StatusCode};
use zhucan_core::Role;

use crate::common::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Staff(Role),
    Resident,
    Anonymous,
}

const EVERYONE: [Who; 8] = [
    Who::Staff(Role::Admin),
    Who::Staff(Role::DistrictReviewer),
    Who::Staff(Role::StreetReviewer),
    Who::Staff(Role::CommunityWorker),
    Who::Staff(Role::Provider),
    Who::Staff(Role::Partner),
    Who::Resident,
    Who::Anonymous,
];

/// What a request should get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Forbidden,
    /// 303 to this sign-in page.
    SignIn(&'static str),
    /// 401 with a JSON error body.
    ApiUnauthenticated,
    /// 403 with a JSON error body.
    ApiForbidden,
}

fn staff_page(who: Who, allowed: fn(Role) -> bool) -> Expect {
    match who {
        Who::Staff(role) if allowed(role) => Expect::Ok,
        Who::Staff(_) => Expect::Forbidden,
        _ => Expect::SignIn("/staff/login"),
    }
}

fn api(who: Who, allowed: fn(Role) -> bool) -> Expect {
    match who {
        Who::Staff(role) if allowed(role) => Expect::Ok,
        Who::Staff(_) => Expect::ApiForbidden,
        _ => Expect::ApiUnauthenticated,
    }
}

fn scope_of(role: Role) -> &'static str {
    match role {
        Role::StreetReviewer => STREET_A,
        Role::CommunityWorker => COMMUNITY_A1,
        _ => DISTRICT,
    }
}

async fn client_for(app: &App, who: Who) -> Client {
    match who {
        Who::Staff(role) => app.staff(role.slug(), role, scope_of(role)).await,
        Who::Resident => app.resident(&phone(1)).await,
        Who::Anonymous => app.client(),
    }
}

fn check(who: Who, method: &str, path: &str, expect: Expect, resp: &Resp) {
    let what = format!("{who:?} {method} {path}");
    match expect {
        Expect::Ok => assert_eq!(resp.status, StatusCode::OK, "{what}: {}", resp.body),
        Expect::Forbidden => {
            assert_eq!(resp.status, StatusCode::FORBIDDEN, "{what}");
            assert!(resp.content_type().starts_with("text/html"), "{what}");
        }
        Expect::SignIn(login) => {
            assert_eq!(resp.status, StatusCode::SEE_OTHER, "{what}");
            assert_eq!(resp.location(), Some(login), "{what}");
        }
        Expect::ApiUnauthenticated | Expect::ApiForbidden => {
            let status = if expect == Expect::ApiForbidden {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(resp.status, status, "{what}: {}", resp.body);
            assert!(
                resp.json()["errors"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty()),
                "{what}: {}",
                resp.body
            );
        }
    }
}

/// Every route × every role, reading pages and the API, plus export's masked/unmasked split.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_by_role_matrix() {
    let app = App::new().await;
    let id = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let record = format!("/staff/persons/{id}");
    let edit = format!("/staff/persons/{id}/edit");
    let history = format!("/staff/persons/{id}/history");
    let api_record = format!("/api/v1/persons/{id}");

    for who in EVERYONE {
        let mut client = client_for(&app, who).await;
        let staff_home = match who {
            Who::Staff(_) => Expect::Ok,
            _ => Expect::SignIn("/staff/login"),
        };
        let me = match who {
            Who::Resident => Expect::Ok,
            _ => Expect::SignIn("/login"),
        };
        let api_me = match who {
            Who::Resident => Expect::Ok,
            _ => Expect::ApiUnauthenticated,
        };
        let gets: Vec<(&str, Expect)> = vec![
            ("/", Expect::Ok),
            ("/login", Expect::Ok),
            ("/staff/login", Expect::Ok),
            ("/staff", staff_home),
            ("/staff/persons", staff_page(who, Role::can_view_registry)),
            (
                "/staff/persons?q=%E5%BC%A0",
                staff_page(who, Role::can_view_registry),
            ),
            (
                "/staff/persons/new",
                staff_page(who, Role::can_edit_registry),
            ),
            (&record, staff_page(who, Role::can_view_registry)),
            (&edit, staff_page(who, Role::can_edit_registry)),
            (&history, staff_page(who, Role::can_view_registry)),
            ("/staff/import", staff_page(who, Role::can_import)),
            ("/staff/export", staff_page(who, Role::can_import)),
            ("/staff/outbox", staff_page(who, Role::can_see_outbox)),
            ("/staff/audit", staff_page(who, Role::can_view_audit)),
            ("/api/v1/persons", api(who, Role::can_view_registry)),
            (&api_record, api(who, Role::can_view_registry)),
            ("/api/v1/me", api_me),
            ("/me", me),
            ("/me/messages", me),
        ];
        for (path, expect) in gets {
            let resp = client.get(path).await;
            check(who, "GET", path, expect, &resp);
        }

        // Exports: masked for every federation role, full numbers only for admin and district.
        let csrf = client.csrf_cookie().unwrap_or_default();
        for unmasked in [false, true] {
            let mut fields = vec![("csrf", csrf.as_str()), ("format", "csv")];
            if unmasked {
                fields.push(("unmasked", "1"));
            }
            let resp = client.post_form("/staff/export", &fields).await;
            let expect = match who {
                Who::Staff(role)
                    if role.can_import() && (!unmasked || role.can_export_unmasked()) =>
                {
                    Expect::Ok
                }
                Who::Staff(_) => Expect::Forbidden,
                _ => Expect::SignIn("/staff/login"),
            };
            let what = if unmasked { "unmasked" } else { "masked" };
            check(
                who,
                "POST",
                &format!("/staff/export ({what})"),
                expect,
                &resp,
            );
            if resp.status == StatusCode::OK {
                let full = rid(1);
                assert_eq!(
                    resp.body.contains(full.as_str()),
                    unmasked,
                    "{who:?}: {what} export shows the full ID?"
                );
                assert!(resp.body.contains(&full.masked()) || unmasked);
            }
        }
    }
    // Each unmasked export was audited as such, by the roles allowed to.
    let roles: Vec<String> = app
        .store
        .recent_audit(500)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "export-unmasked")
        .map(|r| r.actor_role)
        .collect();
    assert_eq!(roles.len(), 2, "{roles:?}");
    assert!(
        roles
            .iter()
            .all(|r| r == "admin" || r == "district_reviewer")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_street_worker_cannot_reach_another_streets_records() {
    let app = App::new().await;
    let ours = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let theirs = app.person(&person(2, "王芳", COMMUNITY_B1)).await;
    let mut street = app.staff("street", Role::StreetReviewer, STREET_A).await;

    for path in [
        format!("/staff/persons/{theirs}"),
        format!("/staff/persons/{theirs}/edit"),
        format!("/staff/persons/{theirs}/history"),
        "/staff/persons/no-such-id".to_owned(),
    ] {
        let resp = street.get(&path).await;
        assert_eq!(resp.status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(!resp.body.contains("王芳"), "{path} leaks the name");
    }
    let resp = street.get(&format!("/api/v1/persons/{theirs}")).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let errors = &resp.json()["errors"];
    assert_eq!(errors.as_array().unwrap().len(), 1);
    assert!(errors[0]["detail"].is_string());
    assert!(!resp.body.contains("王芳"));
    // Same answer as for an ID that does not exist: scope does not reveal existence.
    let missing = street.get("/api/v1/persons/no-such-id").await;
    assert_eq!(
        (missing.status, missing.body.clone()),
        (resp.status, resp.body.clone())
    );

    // Writing to it is refused the same way, and changes nothing.
    let csrf = street.csrf_cookie().unwrap();
    let mut fields = form_fields(&person(2, "改名", COMMUNITY_B1));
    fields.push(("csrf", csrf.clone()));
    fields.push(("version", "1".into()));
    let resp = street
        .post_form(&format!("/staff/persons/{theirs}/edit"), &as_refs(&fields))
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND, "{}", resp.body);
    let resp = street
        .post_form(
            &format!("/staff/persons/{theirs}/consents"),
            &[("csrf", &csrf), ("purpose", "康复"), ("granted_by", "本人")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let body = serde_json::json!({ "version": "1", "resident_id": rid(2).as_str(), "name": "改名",
        "division_code": COMMUNITY_B1 })
    .to_string();
    let resp = street
        .json(
            Method::PUT,
            &format!("/api/v1/persons/{theirs}"),
            &body,
            true,
        )
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND, "{}", resp.body);
    let stored = app
        .store
        .view_person(
            &zhucan_store::Actor::system("test"),
            &zhucan_store::Scope::All,
            &theirs,
        )
        .await
        .unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("王芳", 1));

    // The list shows only the street's own.
    let list = street.get("/staff/persons").await;
    assert!(list.body.contains("张伟") && !list.body.contains("王芳"));
    let api_list = street.get("/api/v1/persons").await.json();
    assert_eq!(api_list["total"], 1);
    assert_eq!(api_list["items"][0]["id"], ours.as_str());
    let export = street
        .post_form("/staff/export", &[("csrf", &csrf), ("format", "csv")])
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.body.contains("张伟") && !export.body.contains("王芳"),
        "export is scoped"
    );
    // A record inside the street opens.
    assert_eq!(
        street.get(&format!("/staff/persons/{ours}")).await.status,
        StatusCode::OK
    );

    // None of the refused requests left a view in the audit log for the other street's record.
    let views_of_theirs = app
        .store
        .recent_audit(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entity_id == theirs && r.action == "view" && r.actor.starts_with("account:"))
        .collect::<Vec<_>>();
    assert!(views_of_theirs.is_empty(), "{views_of_theirs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_sees_only_their_own_record_and_no_workbench() {
    let app = App::new().await;
    let own = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let other = app.person(&person(2, "王芳", COMMUNITY_A1)).await;
    let mut resident = app.resident(&phone(1)).await;

    let me = resident.get("/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(me.body.contains("张伟") && !me.body.contains("王芳"));
    assert!(me.body.contains(&rid(1).masked()));
    assert!(
        !me.body.contains(rid(1).as_str()),
        "the portal masks the ID"
    );
    let api_me = resident.get("/api/v1/me").await.json();
    assert_eq!(api_me["persons"].as_array().unwrap().len(), 1);
    assert_eq!(api_me["persons"][0]["id"], own.as_str());

    for path in [
        "/staff".to_owned(),
        "/staff/persons".to_owned(),
        format!("/staff/persons/{own}"),
        format!("/staff/persons/{other}"),
        "/staff/import".to_owned(),
        "/staff/outbox".to_owned(),
        "/staff/audit".to_owned(),
    ] {
        let resp = resident.get(&path).await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(resp.location(), Some("/staff/login"), "{path}");
    }
    for path in [
        "/api/v1/persons".to_owned(),
        format!("/api/v1/persons/{other}"),
    ] {
        assert_eq!(
            resident.get(&path).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let csrf = resident.csrf_cookie().unwrap();
    let mut fields = form_fields(&person(3, "李四", COMMUNITY_A1));
    fields.push(("csrf", csrf));
    let resp = resident
        .post_form("/staff/persons/new", &as_refs(&fields))
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.count_persons().await.unwrap(), 2);

    // A guardian's phone reaches the ward's record too.
    let ward = {
        let mut p = person(4, "小明", COMMUNITY_A1);
        p.phone = None;
        p.guardian = Some(zhucan_store::GuardianInput {
            name: zhucan_core::PersonName::parse("小明妈妈").unwrap(),
            relation: "母亲".into(),
            phone: Some(phone(1)),
        });
        app.person(&p).await
    };
    // A session resolved in the last few seconds keeps its list of persons (see
    // `sessions::TTL`); a new sign-in sees the ward at once.
    let mut resident = app.resident(&phone(1)).await;
    let api_me = resident.get("/api/v1/me").await.json();
    let ids: Vec<&str> = api_me["persons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&own.as_str()) && ids.contains(&ward.as_str()),
        "{ids:?}"
    );
}
