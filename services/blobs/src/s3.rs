//! Agent binaries in an S3 bucket, for distributed mode: the gateway puts, every worker gets.
//!
//! Any S3-compatible store works (AWS, MinIO, moto): endpoint, region and credentials come
//! from the standard AWS configuration chain (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, profiles, …). The HTTPS client is rustls
//! on ring rather than the SDK's default aws-lc, which needs a large C build.

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, ChecksumAlgorithm, CreateBucketConfiguration};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use base64::Engine;
use bazaar_domain::Sha256;
use bytes::Bytes;

use crate::{BlobError, BlobStore, S3Location};

/// Binaries in `s3://bucket[/prefix]/agents/<sha256>`.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    /// Empty, or a key prefix ending in `/`.
    prefix: String,
}

impl S3BlobStore {
    /// Uses the bucket `location` names, reached as the standard AWS configuration chain
    /// says. With `create_bucket`, a missing bucket
    /// is created now; without it nothing is sent until the first call, so that a service
    /// can start before S3 answers (its readiness check tells when it does).
    pub async fn open(location: &S3Location, create_bucket: bool) -> anyhow::Result<Self> {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .load()
            .await;
        Self::with_config(&config, location, create_bucket).await
    }

    /// Like [`open`](Self::open), with the configuration given rather than read from the
    /// environment.
    pub async fn with_config(
        config: &SdkConfig,
        location: &S3Location,
        create_bucket: bool,
    ) -> anyhow::Result<Self> {
        let mut s3_config = aws_sdk_s3::config::Builder::from(config)
            .behavior_version(BehaviorVersion::latest())
            // MinIO, moto and most other S3-compatible stores serve buckets under a path,
            // not under a host name of their own.
            .force_path_style(config.endpoint_url().is_some());
        if config.http_client().is_none() {
            s3_config = s3_config.http_client(https_client());
        }
        let store = S3BlobStore {
            client: Client::from_conf(s3_config.build()),
            bucket: location.bucket().to_owned(),
            prefix: location.prefix().to_owned(),
        };
        if create_bucket {
            store.create_bucket_if_missing(config).await?;
        }
        Ok(store)
    }

    fn key_of(&self, hash: &Sha256) -> String {
        format!("{}agents/{hash}", self.prefix)
    }

    async fn create_bucket_if_missing(&self, config: &SdkConfig) -> anyhow::Result<()> {
        let head = self.client.head_bucket().bucket(&self.bucket).send().await;
        match head {
            Ok(_) => return Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_not_found()) => {}
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(format!("failed to look for bucket {}", self.bucket)));
            }
        }
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the default location and the one region that rejects naming itself.
        if let Some(region) = config.region().map(|region| region.as_ref())
            && region != "us-east-1"
        {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {
                tracing::info!(bucket = %self.bucket, "created the agent binary bucket");
                Ok(())
            }
            // Another replica created it first.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(error) => Err(anyhow::Error::new(error)
                .context(format!("failed to create bucket {}", self.bucket))),
        }
    }

    fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_not_found()) =>
            {
                Ok(false)
            }
            Err(error) => Err(anyhow::Error::new(error)
                .context(format!("failed to look for {}", self.url_of(key)))),
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put_agent_binary(&self, hash: &Sha256, bytes: Bytes) -> anyhow::Result<String> {
        let key = self.key_of(hash);
        let url = self.url_of(&key);
        if self.exists(&key).await? {
            return Ok(url);
        }
        let digest = hex::decode(hash.as_str()).expect("a Sha256 is 64 hex digits");
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/wasm")
            // S3 recomputes the digest and refuses the object if it differs: a binary is
            // never stored under a name that is not its own. The digest is kept with the
            // object and checked again by the SDK on every download.
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(digest))
            // Two uploads of one binary racing past the check above: the second is refused
            // and changes nothing.
            .if_none_match("*")
            .body(ByteStream::from(bytes))
            .send()
            .await;
        match put {
            Ok(_) => Ok(url),
            Err(error)
                if matches!(
                    error.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                Ok(url)
            }
            Err(error) => Err(anyhow::Error::new(error).context(format!("failed to upload {url}"))),
        }
    }

    async fn get_agent_binary(&self, hash: &Sha256) -> Result<Bytes, BlobError> {
        let key = self.key_of(hash);
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await;
        let object = match got {
            Ok(object) => object,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_no_such_key()) =>
            {
                return Err(BlobError::NotFound(hash.clone()));
            }
            Err(error) => {
                return Err(BlobError::Other(
                    anyhow::Error::new(error)
                        .context(format!("failed to download {}", self.url_of(&key))),
                ));
            }
        };
        let body = object.body.collect().await.map_err(|error| {
            BlobError::Other(
                anyhow::Error::new(error)
                    .context(format!("failed to download {}", self.url_of(&key))),
            )
        })?;
        Ok(body.into_bytes())
    }

    async fn check(&self) -> anyhow::Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::new(error)
                    .context(format!("bucket {} is not reachable", self.bucket))
            })?;
        Ok(())
    }
}

/// HTTPS (and plain HTTP, for a store on loopback) through rustls with ring.
fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
