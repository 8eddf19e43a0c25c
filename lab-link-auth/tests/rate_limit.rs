//! The login rate limit under a concurrent burst (W1): slots are reserved
//! before the Argon2 verification, so at most `max_failures` attempts are
//! verified, and the hashing runs off the executor, so other requests are
//! answered while it runs.

mod common;

use common::*;
use http::{Method, StatusCode};
use lab_link_auth::{Auth, AuthConfig};
use serde_json::json;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_verifies_at_most_max_failures() {
    // Full-cost Argon2 (no store: the passphrase is hashed at start-up
    // with the real parameters), so the verifications take a while.
    let auth = Auth::new(
        AuthConfig::new()
            .passphrase("the real passphrase")
            .max_failures(5)
            .hash_concurrency(1),
    )
    .unwrap();
    let (sender, mut results) = mpsc::unbounded_channel();
    for _ in 0..20 {
        let auth = auth.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let reply = login(&auth, "a wrong passphrase", false).await;
            let retry_after = reply
                .headers
                .get("retry-after")
                .map(|value| value.to_str().unwrap().to_owned());
            sender.send((reply.status, retry_after)).unwrap();
        });
    }
    drop(sender);

    // The 15 refusals come first: they need no hashing.
    let mut received = Vec::new();
    while received
        .iter()
        .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .count()
        < 15
    {
        received.push(results.recv().await.expect("a result"));
    }
    // With five verifications queued behind one hashing permit, an
    // unrelated request is answered before they are all done.
    let status = call(&auth, remote(Method::GET, "/auth/status")).await;
    assert_eq!(status.status, StatusCode::OK);
    while let Ok(result) = results.try_recv() {
        received.push(result);
    }
    let verified_so_far = received
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert!(verified_so_far < 5, "status waited for the whole burst");

    while let Some(result) = results.recv().await {
        received.push(result);
    }
    assert_eq!(received.len(), 20);
    let unauthorized = received
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    let limited: Vec<_> = received
        .iter()
        .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(unauthorized, 5);
    assert_eq!(limited.len(), 15);
    for (_, retry_after) in limited {
        let seconds: u64 = retry_after
            .as_deref()
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&seconds), "{seconds}");
    }

    // Still limited for the right passphrase; another client is not.
    assert_eq!(
        login(&auth, "the real passphrase", false).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let other = remote_from("192.0.2.99", Method::POST, "/auth/login")
        .json(&json!({"passphrase": "the real passphrase"}));
    assert_eq!(call(&auth, other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_success_clears_the_failures() {
    let dir = TestDir::new("rate-success");
    let auth = cheap_auth(&dir, AuthConfig::new().max_failures(3));
    for _ in 0..2 {
        assert_eq!(
            login(&auth, "wrong passphrase!", false).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(login(&auth, PASSPHRASE, false).await.status, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(
            login(&auth, "wrong passphrase!", false).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&auth, PASSPHRASE, false).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_key_is_the_client_behind_a_trusted_proxy() {
    let dir = TestDir::new("rate-proxy");
    let proxy = "127.0.0.1".parse().unwrap();
    let auth = cheap_auth(&dir, AuthConfig::new().max_failures(1).trusted_proxy(proxy));
    let from = |client: &str, passphrase: &str| {
        local(Method::POST, "/auth/login")
            .header("x-forwarded-for", client)
            .json(&json!({"passphrase": passphrase}))
    };
    assert_eq!(
        call(&auth, from("198.51.100.7", "wrong passphrase!"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&auth, from("198.51.100.7", PASSPHRASE)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        call(&auth, from("198.51.100.8", PASSPHRASE)).await.status,
        StatusCode::OK
    );
    // The forwarded client is not local.
    let status = local(Method::GET, "/auth/status").header("x-forwarded-for", "198.51.100.7");
    assert!(status_principal(&auth, status).await.is_null());
}
