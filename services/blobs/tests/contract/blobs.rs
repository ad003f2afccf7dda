//! `BlobStore`: content-addressed agent binaries.

use bazaar_blobs::BlobError;
use bazaar_domain::Sha256;
use bytes::Bytes;

use crate::backends::BlobBackend;

/// Every byte value, several times over, so that no encoding or text handling goes unseen.
fn binary() -> Bytes {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend((0..=255u8).cycle().take(70_000));
    Bytes::from(bytes)
}

pub async fn a_stored_binary_reads_back_byte_for_byte(backend: BlobBackend) {
    let bytes = binary();
    let hash = Sha256::digest(&bytes);

    backend
        .blobs
        .put_agent_binary(&hash, bytes.clone())
        .await
        .unwrap();

    let read = backend.blobs.get_agent_binary(&hash).await.unwrap();
    assert_eq!(read, bytes);
}

pub async fn storing_a_binary_returns_a_url_that_names_its_digest(backend: BlobBackend) {
    let bytes = binary();
    let hash = Sha256::digest(&bytes);

    let url = backend.blobs.put_agent_binary(&hash, bytes).await.unwrap();

    assert!(
        url.contains("://") && url.ends_with(&format!("agents/{hash}")),
        "{url} is not a URL of agents/{hash}"
    );
}

pub async fn storing_the_same_binary_twice_is_fine(backend: BlobBackend) {
    let bytes = binary();
    let hash = Sha256::digest(&bytes);

    let first = backend
        .blobs
        .put_agent_binary(&hash, bytes.clone())
        .await
        .unwrap();
    let second = backend
        .blobs
        .put_agent_binary(&hash, bytes.clone())
        .await
        .unwrap();

    assert_eq!(first, second);
    assert_eq!(backend.blobs.get_agent_binary(&hash).await.unwrap(), bytes);
}

pub async fn storing_the_same_binary_concurrently_is_fine(backend: BlobBackend) {
    let bytes = binary();
    let hash = Sha256::digest(&bytes);

    let uploads: Vec<_> = (0..8)
        .map(|_| {
            let blobs = backend.blobs.clone();
            let hash = hash.clone();
            let bytes = bytes.clone();
            tokio::spawn(async move { blobs.put_agent_binary(&hash, bytes).await })
        })
        .collect();

    for upload in uploads {
        upload.await.unwrap().expect("every upload succeeds");
    }
    assert_eq!(backend.blobs.get_agent_binary(&hash).await.unwrap(), bytes);
}

pub async fn different_binaries_are_kept_apart(backend: BlobBackend) {
    let json = Bytes::from_static(b"\0asm json formatter");
    let csv = Bytes::from_static(b"\0asm csv parser");
    let json_hash = Sha256::digest(&json);
    let csv_hash = Sha256::digest(&csv);

    let json_url = backend
        .blobs
        .put_agent_binary(&json_hash, json.clone())
        .await
        .unwrap();
    let csv_url = backend
        .blobs
        .put_agent_binary(&csv_hash, csv.clone())
        .await
        .unwrap();

    assert_ne!(json_url, csv_url);
    assert_eq!(
        backend.blobs.get_agent_binary(&json_hash).await.unwrap(),
        json
    );
    assert_eq!(
        backend.blobs.get_agent_binary(&csv_hash).await.unwrap(),
        csv
    );
}

pub async fn an_empty_binary_is_stored_like_any_other(backend: BlobBackend) {
    let hash = Sha256::digest(b"");

    backend
        .blobs
        .put_agent_binary(&hash, Bytes::new())
        .await
        .unwrap();

    assert!(
        backend
            .blobs
            .get_agent_binary(&hash)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn an_unknown_digest_is_not_found(backend: BlobBackend) {
    let stored = binary();
    backend
        .blobs
        .put_agent_binary(&Sha256::digest(&stored), stored)
        .await
        .unwrap();
    let unknown = Sha256::digest(b"never stored");

    let read = backend.blobs.get_agent_binary(&unknown).await;

    match read {
        Err(BlobError::NotFound(hash)) => assert_eq!(hash, unknown),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

pub async fn a_fresh_blob_store_passes_its_check(backend: BlobBackend) {
    let checked = backend.blobs.check().await;

    assert!(checked.is_ok(), "{checked:?}");
}
