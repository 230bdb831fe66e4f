//! Signing in and out, cookies, CSRF and Origin checks, rate limits, resident codes.

use axum::http::{Method, StatusCode};
use zhucan_core::Role;
use zhucan_crypto::sm3_hex;
use zhucan_store::OneTimeCode;

use crate::common::*;

const WRONG_LOGIN: &str = "用户名或密码不正确";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_hardened_session_cookie_and_sign_out_ends_it() {
    let app = App::new().await;
    app.account("wang", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let mut client = app.client();

    let page = client.get("/staff/login").await;
    let csrf_cookie = page
        .set_cookie("zhucan_csrf")
        .expect("a CSRF cookie on first visit");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(csrf_cookie.contains(flag), "{csrf_cookie}");
    }
    let before_login = client.csrf_cookie().unwrap();
    assert_eq!(
        hidden_csrf(&page.body).as_deref(),
        Some(before_login.as_str())
    );

    let resp = client
        .post_form(
            "/staff/login",
            &[
                ("csrf", &before_login),
                ("username", " Wang "),
                ("password", PASSWORD),
                ("next", "/staff/persons"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(resp.location(), Some("/staff/persons"));
    let session = resp.set_cookie("zhucan_session").expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=28800"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(!session.contains("Secure"), "not over HTTPS in this config");
    let renewed = client.csrf_cookie().unwrap();
    assert_ne!(
        renewed, before_login,
        "the CSRF token is renewed at sign-in"
    );
    let home = client.get("/staff").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("测试wang"));
    assert_eq!(hidden_csrf(&home.body).as_deref(), Some(renewed.as_str()));
    let signed_in = app
        .store
        .recent_audit(10)
        .await
        .unwrap()
        .into_iter()
        .any(|r| r.action == "sign-in" && r.actor == "account:wang");
    assert!(signed_in, "sign-in is audited");

    // Sign out: the cookie is cleared and the old token no longer works if replayed.
    let token = client.jar.get("zhucan_session").cloned().unwrap();
    let resp = client.post_form("/logout", &[("csrf", &renewed)]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert_eq!(resp.location(), Some("/staff/login"));
    assert!(
        resp.set_cookie("zhucan_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(!client.jar.contains_key("zhucan_session"));
    client.jar.insert("zhucan_session".into(), token);
    let resp = client.get("/staff").await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert_eq!(resp.location(), Some("/staff/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_cookies_are_secure_and_a_trusted_proxy_names_the_client() {
    let app = App::with_config(|c| {
        c.secure_cookies = true;
        c.trust_proxy = true;
    })
    .await;
    app.account("wang", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let mut client = app.client();
    client.headers = vec![("x-forwarded-for".into(), "203.0.113.7, 10.0.0.1".into())];
    let resp = client.staff_login("wang", PASSWORD).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    for name in ["zhucan_session", "zhucan_csrf"] {
        let cookie = resp.set_cookie(name).unwrap();
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
    let sign_in = app.store.recent_audit(1).await.unwrap().remove(0);
    assert_eq!(sign_in.action, "sign-in");
    assert_eq!(sign_in.client.as_deref(), Some("203.0.113.7"));

    // Without trusting a proxy, the header is ignored (it cannot dodge the per-client limit).
    let app = App::new().await;
    app.account("wang", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let mut client = app.client();
    client.headers = vec![("x-forwarded-for".into(), "203.0.113.7".into())];
    client.staff_login("wang", PASSWORD).await;
    let sign_in = app.store.recent_audit(1).await.unwrap().remove(0);
    assert_eq!(sign_in.client.as_deref(), Some("local"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_only_redirects_to_local_paths() {
    let app = App::new().await;
    app.account("wang", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    for (next, expected) in [
        ("//evil.example/x", "/staff"),
        ("https://evil.example/", "/staff"),
        ("/\\evil.example", "/staff"),
        ("/staff/persons?q=1", "/staff/persons?q=1"),
    ] {
        let mut client = app.client();
        let csrf = client.csrf_from("/staff/login").await;
        let resp = client
            .post_form(
                "/staff/login",
                &[
                    ("csrf", &csrf),
                    ("username", "wang"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER);
        assert_eq!(resp.location(), Some(expected), "next={next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_user_look_the_same() {
    let app = App::new().await;
    app.account("wang", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let mut client = app.client();
    let known = client.staff_login("wang", "Wrong@2026").await;
    let unknown = client.staff_login("nosuchuser", "Wrong@2026").await;
    for resp in [&known, &unknown] {
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.error_summary(), [WRONG_LOGIN]);
        assert!(resp.set_cookie("zhucan_session").is_none());
    }
    // Apart from the echoed user name, the two pages are identical.
    assert_eq!(
        known.body.replace("wang", "USER"),
        unknown.body.replace("nosuchuser", "USER")
    );
    // Empty fields are named, without touching the account.
    let csrf = client.csrf_cookie().unwrap();
    let resp = client
        .post_form(
            "/staff/login",
            &[("csrf", &csrf), ("username", ""), ("password", "")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.error_summary(), ["请输入用户名", "请输入密码"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_user_name() {
    let app = App::new().await;
    app.account("wang", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    app.account("liming", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let mut client = app.client();
    for i in 0..5 {
        let resp = client.staff_login("wang", &format!("Wrong@{i}")).await;
        assert_eq!(resp.status, StatusCode::OK, "attempt {i}");
        assert_eq!(resp.error_summary(), [WRONG_LOGIN]);
    }
    let resp = client.staff_login("wang", PASSWORD).await;
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.body.contains("尝试次数过多"));
    assert!(resp.set_cookie("zhucan_session").is_none());
    assert_eq!(client.get("/staff").await.status, StatusCode::SEE_OTHER);
    // The same name in other letters is the same account, so also locked.
    assert_eq!(
        client.staff_login("WANG", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another user from the same address is not locked out by it.
    let resp = client.staff_login("liming", PASSWORD).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
}

/// A lockout holds for the address that guessed, not for the real user elsewhere; parallel
/// guesses are counted before any password is checked, so no more than the limit are tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_lock_one_address_out_and_cannot_race_the_limit() {
    let app = App::with_config(|c| c.trust_proxy = true).await;
    app.account("wang", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let from = |address: &str| {
        let mut client = app.client();
        client.headers = vec![("x-forwarded-for".into(), address.into())];
        client
    };
    let guesses = (0..40).map(|i| {
        let mut client = from("203.0.113.9");
        tokio::spawn(async move { client.staff_login("wang", &format!("Wrong@{i}")).await })
    });
    let mut checked = 0;
    for guess in guesses.collect::<Vec<_>>() {
        let resp = guess.await.unwrap();
        match resp.status {
            StatusCode::OK => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(
                    resp.body.contains("该账号在本设备上尝试次数过多"),
                    "{}",
                    resp.body
                )
            }
            other => panic!("a guess answered {other}"),
        }
    }
    assert_eq!(
        checked, 5,
        "only the limit's worth of guesses reach the password check"
    );
    assert_eq!(
        from("203.0.113.9")
            .staff_login("wang", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The real user, at the office, still signs in.
    assert_eq!(
        from("198.51.100.4")
            .staff_login("wang", PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_csrf_token_and_a_same_origin() {
    let app = App::new().await;
    let mut worker = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;
    let csrf = worker.csrf_cookie().unwrap();
    let fields = form_fields(&person(1, "张伟", COMMUNITY_A1));
    let post = |csrf: Option<&str>| {
        let mut f = fields.clone();
        if let Some(c) = csrf {
            f.push(("csrf", c.to_owned()));
        }
        f
    };

    let resp = worker
        .post_form("/staff/persons/new", &as_refs(&post(None)))
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "no token");
    let resp = worker
        .post_form(
            "/staff/persons/new",
            &as_refs(&post(Some("0".repeat(64).as_str()))),
        )
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "wrong token");
    // Another session's token is not this session's.
    let other = app
        .staff("liming", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let resp = worker
        .post_form(
            "/staff/persons/new",
            &as_refs(&post(other.csrf_cookie().as_deref())),
        )
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "someone else's token");

    // A cross-site post carries the right cookie (browsers send it) but a foreign Origin.
    worker.headers = vec![
        ("host".into(), "zhucan.example".into()),
        ("origin".into(), "https://evil.example".into()),
    ];
    let resp = worker
        .post_form("/staff/persons/new", &as_refs(&post(Some(&csrf))))
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "foreign origin");
    worker.headers[1].1 = "null".into();
    let resp = worker
        .post_form("/staff/persons/new", &as_refs(&post(Some(&csrf))))
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "opaque origin");
    let resp = worker
        .json(Method::POST, "/api/v1/persons", "{}", true)
        .await;
    assert_eq!(
        resp.status,
        StatusCode::FORBIDDEN,
        "foreign origin on the API"
    );
    // Reading from anywhere is fine.
    worker.headers[1].1 = "https://evil.example".into();
    assert_eq!(worker.get("/staff/persons").await.status, StatusCode::OK);
    assert_eq!(
        app.store.count_persons().await.unwrap(),
        0,
        "nothing was written"
    );

    // The same post from the site itself goes through.
    worker.headers[1].1 = "http://zhucan.example".into();
    let resp = worker
        .post_form("/staff/persons/new", &as_refs(&post(Some(&csrf))))
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(app.store.count_persons().await.unwrap(), 1);

    // Sign-in and sign-out forms are protected too.
    let mut anonymous = app.client();
    anonymous.get("/staff/login").await;
    let resp = anonymous
        .post_form(
            "/staff/login",
            &[
                ("csrf", "forged"),
                ("username", "wang"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert!(resp.set_cookie("zhucan_session").is_none());
    let mut no_cookie = app.client();
    let resp = no_cookie
        .post_form(
            "/staff/login",
            &[
                ("csrf", &"a".repeat(64)),
                ("username", "wang"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        resp.status,
        StatusCode::FORBIDDEN,
        "a token without its cookie"
    );
    worker.headers.clear();
    let resp = worker.post_form("/logout", &[("csrf", "forged")]).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(
        worker.get("/staff").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

fn code_hash(app: &App, phone: &zhucan_core::Phone, code: &str) -> (Vec<u8>, String) {
    let index = app.store.crypto().blind_index(b"phone", phone.as_str());
    let hash = sm3_hex(&[index.as_slice(), code.as_bytes()].concat());
    (index, hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_signs_in_with_a_code_sent_to_their_phone() {
    let app = App::new().await;
    app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let mut client = app.client();
    let csrf = client.csrf_from("/login").await;

    let resp = client
        .post_form(
            "/login/code",
            &[("csrf", &csrf), ("phone", "138 0000 0001")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.body.contains("验证码已通过短信发送"));
    let outbox = app.store.recent_notifications(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].channel, "sms");
    assert_eq!(outbox[0].recipient, phone(1).masked());
    assert_eq!(outbox[0].status, "pending");
    let code = app.last_sms_code().await;
    assert!(
        !resp.body.contains(&code),
        "the code is not shown on the page"
    );

    // A malformed code is a field error; it does not use up a try.
    let resp = client
        .post_form(
            "/login/verify",
            &[
                ("csrf", &csrf),
                ("phone", phone(1).as_str()),
                ("code", "12ab"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.error_summary(), ["请输入短信中的 6 位数字验证码"]);

    let resp = client
        .post_form(
            "/login/verify",
            &[
                ("csrf", &csrf),
                ("phone", phone(1).as_str()),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(resp.location(), Some("/me"));
    let session = resp.set_cookie("zhucan_session").unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(session.contains("Max-Age=7200"), "{session}");
    let me = client.get("/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(me.body.contains("张伟"));

    // The code worked once.
    let csrf = client.csrf_cookie().unwrap();
    client.post_form("/logout", &[("csrf", &csrf)]).await;
    let mut again = app.client();
    let csrf = again.csrf_from("/login").await;
    let resp = again
        .post_form(
            "/login/verify",
            &[
                ("csrf", &csrf),
                ("phone", phone(1).as_str()),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.error_summary(), ["验证码已失效，请重新获取"]);
    assert_eq!(again.get("/me").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_phone_gets_the_same_page_but_no_session() {
    let app = App::new().await;
    app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let mut client = app.client();
    let csrf = client.csrf_from("/login").await;
    let registered = client
        .post_form(
            "/login/code",
            &[("csrf", &csrf), ("phone", phone(1).as_str())],
        )
        .await;
    let stranger = client
        .post_form(
            "/login/code",
            &[("csrf", &csrf), ("phone", phone(99).as_str())],
        )
        .await;
    assert_eq!(registered.status, stranger.status);
    assert_eq!(
        registered.body.replace(phone(1).as_str(), "PHONE"),
        stranger.body.replace(phone(99).as_str(), "PHONE"),
        "the page does not reveal who is registered"
    );
    let code = app.last_sms_code().await;
    let resp = client
        .post_form(
            "/login/verify",
            &[
                ("csrf", &csrf),
                ("phone", phone(99).as_str()),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.error_summary()[0].contains("未登记"));
    assert!(resp.set_cookie("zhucan_session").is_none());
    assert_eq!(client.get("/me").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_use_the_code_up() {
    let app = App::new().await;
    app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let mut client = app.client();
    let csrf = client.csrf_from("/login").await;
    client
        .post_form(
            "/login/code",
            &[("csrf", &csrf), ("phone", phone(1).as_str())],
        )
        .await;
    let code = app.last_sms_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for i in 0..5 {
        let resp = client
            .post_form(
                "/login/verify",
                &[
                    ("csrf", &csrf),
                    ("phone", phone(1).as_str()),
                    ("code", wrong),
                ],
            )
            .await;
        assert_eq!(resp.status, StatusCode::OK, "try {i}");
        assert_eq!(
            resp.error_summary(),
            ["验证码不正确，请重新输入"],
            "try {i}"
        );
    }
    // The right code no longer signs in: the phone is rate-limited and the code is used up.
    let resp = client
        .post_form(
            "/login/verify",
            &[
                ("csrf", &csrf),
                ("phone", phone(1).as_str()),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.set_cookie("zhucan_session").is_none());
    let (index, hash) = code_hash(&app, &phone(1), &code);
    assert_eq!(
        app.store
            .check_one_time_code(&index, &hash, 5)
            .await
            .unwrap(),
        OneTimeCode::Unusable
    );
    assert_eq!(client.get("/me").await.status, StatusCode::SEE_OTHER);
}

/// Every form POST without its CSRF field is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_without_a_csrf_field_are_refused() {
    let app = App::new().await;
    let id = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let mut worker = app.staff("wang", Role::Admin, DISTRICT).await;
    let audit_before = app.store.recent_audit(1000).await.unwrap().len();
    let fields = form_fields(&person(2, "王芳", COMMUNITY_A1));
    let consent = format!("/staff/persons/{id}/consents");
    let edit = format!("/staff/persons/{id}/edit");
    let mut edit_fields = form_fields(&person(1, "改名", COMMUNITY_A1));
    edit_fields.push(("version", "1".into()));
    let posts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/staff/persons/new", as_refs(&fields)),
        (&edit, as_refs(&edit_fields)),
        (&consent, vec![("purpose", "康复"), ("granted_by", "本人")]),
        ("/staff/export", vec![("format", "csv"), ("unmasked", "1")]),
        (
            "/staff/login",
            vec![("username", "wang"), ("password", PASSWORD)],
        ),
        ("/login/code", vec![("phone", "13800000001")]),
        (
            "/login/verify",
            vec![("phone", "13800000001"), ("code", "123456")],
        ),
        ("/logout", vec![]),
    ];
    for (path, fields) in posts {
        let resp = worker.post_form(path, &fields).await;
        assert!(
            resp.status == StatusCode::FORBIDDEN || resp.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            resp.status
        );
        assert!(resp.set_cookie("zhucan_session").is_none(), "{path}");
    }
    assert_eq!(app.store.count_persons().await.unwrap(), 1);
    assert_eq!(
        app.store.recent_audit(1000).await.unwrap().len(),
        audit_before
    );
    assert!(app.store.recent_notifications(10).await.unwrap().is_empty());
    assert_eq!(
        worker.get("/staff").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

/// Found while writing these tests: forms whose `csrf` field is required in the handler's
/// `Deserialize` struct (`StaffLogin`, `CodeRequest`, `CodeCheck`, `CsrfOnly`, `ConsentForm`,
/// `ExportForm`) reject a post without it in axum's `Form` extractor, with a plain-text 422,
/// instead of the 403 "form expired" page every other CSRF failure gets. Nothing is written
/// either way; the fix is `#[serde(default)]` on those `csrf` fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_csrf_field_is_the_same_403_as_a_wrong_one() {
    let app = App::new().await;
    let id = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let mut worker = app.staff("wang", Role::Admin, DISTRICT).await;
    let consent = format!("/staff/persons/{id}/consents");
    let posts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (&consent, vec![("purpose", "康复"), ("granted_by", "本人")]),
        ("/staff/export", vec![("format", "csv")]),
        (
            "/staff/login",
            vec![("username", "wang"), ("password", PASSWORD)],
        ),
        ("/login/code", vec![("phone", "13800000001")]),
        (
            "/login/verify",
            vec![("phone", "13800000001"), ("code", "123456")],
        ),
        ("/logout", vec![]),
    ];
    for (path, fields) in posts {
        let resp = worker.post_form(path, &fields).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{path}: {}", resp.body);
        assert!(resp.body.contains("表单已过期"), "{path}");
    }
}
