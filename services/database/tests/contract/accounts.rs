//! `AccountStore`: users and their bearer tokens.

use bazaar_database::StoreError;
use bazaar_domain::UserId;
use chrono::{TimeDelta, Utc};

use crate::backends::Backend;
use crate::fixtures::{create_user, username};

pub async fn a_created_user_is_found_by_username_with_its_password_hash(backend: Backend) {
    let id = UserId::generate();
    backend
        .accounts
        .create_user(&id, &username("ada"), "$argon2id$hash-of-ada")
        .await
        .unwrap();

    let credentials = backend
        .accounts
        .find_credentials(&username("ada"))
        .await
        .unwrap()
        .expect("ada has credentials");

    assert_eq!(credentials.user_id, id);
    assert_eq!(credentials.username, username("ada"));
    assert_eq!(credentials.password_hash, "$argon2id$hash-of-ada");
}

pub async fn an_unknown_username_has_no_credentials(backend: Backend) {
    create_user(&backend, "ada").await;

    let credentials = backend
        .accounts
        .find_credentials(&username("grace"))
        .await
        .unwrap();

    assert!(credentials.is_none());
}

pub async fn a_taken_username_is_a_conflict_and_keeps_the_first_user(backend: Backend) {
    let first = create_user(&backend, "ada").await;

    let second = backend
        .accounts
        .create_user(&UserId::generate(), &username("ada"), "another hash")
        .await;

    assert!(
        matches!(second, Err(StoreError::Conflict(_))),
        "expected a conflict, got {second:?}"
    );
    let credentials = backend
        .accounts
        .find_credentials(&username("ada"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.user_id, first);
}

pub async fn a_token_leads_to_the_user_it_was_created_for(backend: Backend) {
    let ada = create_user(&backend, "ada").await;
    let grace = create_user(&backend, "grace").await;
    let tomorrow = Utc::now() + TimeDelta::days(1);
    backend
        .accounts
        .create_token("hash-of-adas-token", &ada, tomorrow)
        .await
        .unwrap();
    backend
        .accounts
        .create_token("hash-of-graces-token", &grace, tomorrow)
        .await
        .unwrap();

    let adas = backend.accounts.find_token_user("hash-of-adas-token").await;
    let graces = backend
        .accounts
        .find_token_user("hash-of-graces-token")
        .await;

    assert_eq!(adas.unwrap(), Some(ada));
    assert_eq!(graces.unwrap(), Some(grace));
}

pub async fn an_unknown_token_leads_to_no_user(backend: Backend) {
    let ada = create_user(&backend, "ada").await;
    backend
        .accounts
        .create_token("hash-of-adas-token", &ada, Utc::now() + TimeDelta::days(1))
        .await
        .unwrap();

    let user = backend.accounts.find_token_user("hash-of-no-token").await;

    assert_eq!(user.unwrap(), None);
}

pub async fn an_expired_token_leads_to_no_user(backend: Backend) {
    let ada = create_user(&backend, "ada").await;
    backend
        .accounts
        .create_token(
            "hash-of-old-token",
            &ada,
            Utc::now() - TimeDelta::seconds(1),
        )
        .await
        .unwrap();

    let user = backend.accounts.find_token_user("hash-of-old-token").await;

    assert_eq!(user.unwrap(), None);
}

pub async fn a_revoked_token_leads_to_no_user_but_other_tokens_still_work(backend: Backend) {
    let ada = create_user(&backend, "ada").await;
    let tomorrow = Utc::now() + TimeDelta::days(1);
    for token_hash in ["hash-of-laptop-token", "hash-of-phone-token"] {
        backend
            .accounts
            .create_token(token_hash, &ada, tomorrow)
            .await
            .unwrap();
    }

    backend
        .accounts
        .revoke_token("hash-of-laptop-token")
        .await
        .unwrap();

    let laptop = backend
        .accounts
        .find_token_user("hash-of-laptop-token")
        .await;
    let phone = backend
        .accounts
        .find_token_user("hash-of-phone-token")
        .await;
    assert_eq!(laptop.unwrap(), None);
    assert_eq!(phone.unwrap(), Some(ada));
}

pub async fn revoking_an_unknown_token_is_not_an_error(backend: Backend) {
    let revoked = backend.accounts.revoke_token("hash-of-no-token").await;

    assert!(revoked.is_ok(), "{revoked:?}");
}
