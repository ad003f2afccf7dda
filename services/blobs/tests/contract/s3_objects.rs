//! What only the S3 blob store promises, seen in the bucket itself: where binaries go, that
//! each is sent with its SHA-256 for the server to check, that a binary is uploaded once,
//! and that the store hands back what the bucket holds, tampered or not, for the worker's
//! own digest check to judge.
//!
//! moto keeps the checksum it is sent but, unlike S3 and MinIO, does not verify it, so a
//! binary sent under a digest not its own is not tested here.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;
use base64::Engine;
use bazaar_blobs::{BlobError, BlobStore, S3BlobStore, S3Location};
use bazaar_domain::Sha256;
use bytes::Bytes;

use crate::backends::{S3Bucket, bucket_location, s3_bucket};

fn binary() -> Bytes {
    Bytes::from_static(b"\0asm\x01\0\0\0 an agent that formats json")
}

/// Overwrites an object behind the store's back, as an attacker with bucket access could.
async fn overwrite(bucket: &S3Bucket, key: &str, bytes: &'static [u8]) {
    bucket
        .client
        .put_object()
        .bucket(&bucket.name)
        .key(key)
        .body(ByteStream::from_static(bytes))
        .send()
        .await
        .expect("the object is overwritten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_is_stored_under_agents_and_its_digest_with_a_sha256_checksum() {
    let Some(bucket) = s3_bucket().await else {
        return;
    };
    let bytes = binary();
    let hash = Sha256::digest(&bytes);

    let url = bucket
        .store
        .put_agent_binary(&hash, bytes.clone())
        .await
        .unwrap();

    assert_eq!(url, format!("s3://{}/agents/{hash}", bucket.name));
    let head = bucket
        .client
        .head_object()
        .bucket(&bucket.name)
        .key(format!("agents/{hash}"))
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("the object is where the url says");
    let digest = hex::decode(hash.as_str()).unwrap();
    assert_eq!(
        head.checksum_sha256(),
        Some(
            base64::engine::general_purpose::STANDARD
                .encode(digest)
                .as_str()
        )
    );
    assert_eq!(head.content_length(), Some(bytes.len() as i64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storing_the_same_binary_twice_uploads_it_once() {
    let Some(bucket) = s3_bucket().await else {
        return;
    };
    let bytes = binary();
    let hash = Sha256::digest(&bytes);
    bucket
        .store
        .put_agent_binary(&hash, bytes.clone())
        .await
        .unwrap();
    // A marker in place of the binary: a second upload would put the binary back.
    overwrite(&bucket, &format!("agents/{hash}"), b"marker").await;

    bucket.store.put_agent_binary(&hash, bytes).await.unwrap();

    let read = bucket.store.get_agent_binary(&hash).await.unwrap();
    assert_eq!(read, Bytes::from_static(b"marker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_binary_is_returned_as_the_bucket_holds_it() {
    let Some(bucket) = s3_bucket().await else {
        return;
    };
    let bytes = binary();
    let hash = Sha256::digest(&bytes);
    bucket
        .store
        .put_agent_binary(&hash, bytes.clone())
        .await
        .unwrap();

    overwrite(&bucket, &format!("agents/{hash}"), b"\0asm tampered").await;

    // Not repaired, not hidden: the worker's digest check is what rejects it.
    let read = bucket.store.get_agent_binary(&hash).await.unwrap();
    assert_eq!(read, Bytes::from_static(b"\0asm tampered"));
    assert_ne!(Sha256::digest(&read), hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_url_with_a_path_keeps_binaries_under_that_prefix() {
    let Some(bucket) = s3_bucket().await else {
        return;
    };
    let store = S3BlobStore::with_config(
        &bucket.config,
        &S3Location::parse(&format!("s3://{}/production/", bucket.name)).unwrap(),
        false,
    )
    .await
    .unwrap();
    let bytes = binary();
    let hash = Sha256::digest(&bytes);

    let url = store.put_agent_binary(&hash, bytes.clone()).await.unwrap();

    assert_eq!(
        url,
        format!("s3://{}/production/agents/{hash}", bucket.name)
    );
    assert_eq!(store.get_agent_binary(&hash).await.unwrap(), bytes);
    let unprefixed = bucket.store.get_agent_binary(&hash).await;
    assert!(
        matches!(unprefixed, Err(BlobError::NotFound(_))),
        "{unprefixed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_an_existing_bucket_with_creation_on_keeps_what_it_holds() {
    let Some(bucket) = s3_bucket().await else {
        return;
    };
    let bytes = binary();
    let hash = Sha256::digest(&bytes);
    bucket
        .store
        .put_agent_binary(&hash, bytes.clone())
        .await
        .unwrap();

    let reopened = S3BlobStore::with_config(&bucket.config, &bucket_location(&bucket.name), true)
        .await
        .unwrap();

    assert_eq!(reopened.get_agent_binary(&hash).await.unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_not_created_when_creation_is_off_and_fails_the_check() {
    let Some(bucket) = s3_bucket().await else {
        return;
    };
    let missing = format!("{}-missing", bucket.name);

    let store = S3BlobStore::with_config(&bucket.config, &bucket_location(&missing), false)
        .await
        .expect("opening sends nothing when creation is off");

    let checked = store.check().await;
    assert!(checked.is_err(), "a missing bucket passed the check");
    let read = store.get_agent_binary(&Sha256::digest(&binary())).await;
    assert!(
        matches!(read, Err(BlobError::Other(_))),
        "a missing bucket is not a missing binary: {read:?}"
    );
}
