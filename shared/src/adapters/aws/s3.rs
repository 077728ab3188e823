//! `Blobs` on S3. Objects live under `<tenant>/<name>` and are written with SSE-KMS under the
//! tenant's own KMS key (bucket key on), so destroying that key voids every copy, versions
//! and backups included. Browsers upload straight to S3 with a pre-signed PUT whose signature
//! binds the content type and the SSE headers; the server checks the upload's first bytes
//! (ranged GET) and copies exactly that version (CopyObject with `x-amz-copy-source-if-match`)
//! outside `UPLOAD_PREFIX`, where no ticket can write (`app::uploads::accept`). Accepting an
//! upload thus reads only `<tenant>/incoming/*`.

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;
use time::Duration;

use super::describe;
use crate::ports::blobs::{
    valid_name, BlobError, BlobInfo, BlobPrefix, BlobScope, Blobs, UploadTicket, UPLOAD_PREFIX,
};

/// How a `BlobPrefix::version` names what was read: an object version id (versioned bucket)
/// or an ETag (copied with `x-amz-copy-source-if-match`).
const VERSION_ID: &str = "id:";
const ETAG: &str = "etag:";

pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    pub fn new(client: Client, bucket: &str) -> Self {
        S3Blobs {
            client,
            bucket: bucket.to_string(),
        }
    }

    fn object_key(scope: &BlobScope, name: &str) -> Result<String, BlobError> {
        if !valid_name(name) || !valid_name(&scope.tenant_id) || scope.tenant_id.contains('/') {
            return Err(BlobError::InvalidName);
        }
        Ok(format!("{}/{name}", scope.tenant_id))
    }
}

/// KMS refusing to decrypt (key pending deletion or disabled) surfaces as access errors.
fn read_error<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> BlobError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("");
    if code.starts_with("KMS.") || code == "AccessDenied" || code == "KMSInvalidStateException" {
        BlobError::Unreadable
    } else {
        BlobError::Backend(describe(e))
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn put(
        &self,
        scope: &BlobScope,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::object_key(scope, name)?)
            .body(ByteStream::from(bytes))
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&scope.master_key)
            .bucket_key_enabled(true)
            .send()
            .await
            .map_err(|e| BlobError::Backend(describe(&e)))?;
        Ok(())
    }

    async fn get(
        &self,
        scope: &BlobScope,
        name: &str,
    ) -> Result<Option<(Vec<u8>, String)>, BlobError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::object_key(scope, name)?)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(read_error(&e)),
        };
        let content_type = out
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Backend(e.to_string()))?
            .into_bytes();
        Ok(Some((bytes.to_vec(), content_type)))
    }

    async fn copy(
        &self,
        scope: &BlobScope,
        from: &str,
        to: &str,
        version: &str,
    ) -> Result<bool, BlobError> {
        // Object names are plain ASCII (`valid_name`), so the copy source needs no escaping;
        // a version id is URL-safe as S3 issues it, and is escaped anyway.
        let mut source = format!("{}/{}", self.bucket, Self::object_key(scope, from)?);
        let mut etag = None;
        if let Some(id) = version.strip_prefix(VERSION_ID) {
            source.push_str("?versionId=");
            for b in id.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    source.push(char::from(b));
                } else {
                    source.push_str(&format!("%{b:02X}"));
                }
            }
        } else {
            etag = Some(version.strip_prefix(ETAG).unwrap_or(version).to_string());
        }
        match self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(Self::object_key(scope, to)?)
            .copy_source(source)
            .set_copy_source_if_match(etag)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&scope.master_key)
            .bucket_key_enabled(true)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // PreconditionFailed: the source was written again after it was read; NoSuchVersion:
            // the version read was deleted since.
            Err(e)
                if matches!(
                    e.as_service_error().and_then(|s| s.code()),
                    Some("NoSuchKey" | "NoSuchVersion" | "PreconditionFailed")
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(read_error(&e)),
        }
    }

    /// The bucket is versioned: every version and delete marker under the tenant's prefix is
    /// deleted (by version id), so nothing waits for the lifecycle rule. The count is of the
    /// objects that were current (an image replaced earlier counts once).
    async fn count_tenant(&self, tenant_id: &str) -> Result<u64, BlobError> {
        if !valid_name(tenant_id) || tenant_id.contains('/') {
            return Err(BlobError::InvalidName);
        }
        // The listing `delete_tenant` uses (and its permission), current versions counted.
        let mut count = 0u64;
        let mut marker: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(format!("{tenant_id}/"))
                .set_key_marker(marker.0.take())
                .set_version_id_marker(marker.1.take())
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| BlobError::Backend(describe(&e)))?;
            count += page
                .versions()
                .iter()
                .filter(|v| v.is_latest() == Some(true))
                .count() as u64;
            if page.is_truncated() != Some(true) {
                return Ok(count);
            }
            marker = (
                page.next_key_marker().map(str::to_string),
                page.next_version_id_marker().map(str::to_string),
            );
        }
    }

    async fn delete_tenant(&self, tenant_id: &str) -> Result<u64, BlobError> {
        if !valid_name(tenant_id) || tenant_id.contains('/') {
            return Err(BlobError::InvalidName);
        }
        let prefix = format!("{tenant_id}/");
        let mut count = 0u64;
        // Each round lists from the start again: what was deleted is no longer listed.
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| BlobError::Backend(describe(&e)))?;
            let mut doomed: Vec<(String, Option<String>)> = Vec::new();
            for v in page.versions() {
                if let Some(key) = v.key() {
                    if v.is_latest() == Some(true) {
                        count += 1;
                    }
                    doomed.push((key.to_string(), v.version_id().map(str::to_string)));
                }
            }
            for m in page.delete_markers() {
                if let Some(key) = m.key() {
                    doomed.push((key.to_string(), m.version_id().map(str::to_string)));
                }
            }
            if doomed.is_empty() {
                return Ok(count);
            }
            for (key, version) in doomed {
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_version_id(version)
                    .send()
                    .await
                    .map_err(|e| BlobError::Backend(describe(&e)))?;
            }
        }
    }

    /// Deletes the object and every earlier version of it: the bucket is versioned, and a
    /// plain DeleteObject would only add a delete marker and keep the image for the lifecycle
    /// rule's 30 days. A deletion (廃棄) removes the image at once.
    async fn delete(&self, scope: &BlobScope, name: &str) -> Result<(), BlobError> {
        let key = Self::object_key(scope, name)?;
        let mut doomed: Vec<Option<String>> = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| BlobError::Backend(describe(&e)))?;
            // The prefix also matches longer names (`a.jpg` and `a.jpg.old`): exact keys only.
            let exact = |k: Option<&str>| k == Some(key.as_str());
            for v in page.versions().iter().filter(|v| exact(v.key())) {
                doomed.push(v.version_id().map(str::to_string));
            }
            for m in page.delete_markers().iter().filter(|m| exact(m.key())) {
                doomed.push(m.version_id().map(str::to_string));
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        if doomed.is_empty() {
            // Nothing listed (an unversioned bucket lists its objects too): a plain delete,
            // which succeeds for a missing object.
            doomed.push(None);
        }
        for version in doomed {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&key)
                .set_version_id(version)
                .send()
                .await
                .map_err(|e| BlobError::Backend(describe(&e)))?;
        }
        Ok(())
    }

    async fn head(&self, scope: &BlobScope, name: &str) -> Result<Option<BlobInfo>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(Self::object_key(scope, name)?)
            .send()
            .await
        {
            Ok(out) => Ok(Some(BlobInfo {
                size: out
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                content_type: out
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string(),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(read_error(&e)),
        }
    }

    async fn read_prefix(
        &self,
        scope: &BlobScope,
        name: &str,
        len: usize,
    ) -> Result<Option<BlobPrefix>, BlobError> {
        let key = Self::object_key(scope, name)?;
        let mut request = self.client.get_object().bucket(&self.bucket).key(&key);
        // An empty object has no byte 0 to range over (S3 answers InvalidRange); `len == 0`
        // asks for none: both are a plain GET of at most nothing worth reading.
        if len > 0 {
            request = request.range(format!("bytes=0-{}", len - 1));
        }
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("InvalidRange") => self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| read_error(&e))?,
            Err(e) => return Err(read_error(&e)),
        };
        // The whole size: after the slash of `Content-Range: bytes 0-7/12345`, or the length
        // of an unranged answer.
        let size = out
            .content_range()
            .and_then(|r| r.rsplit_once('/'))
            .and_then(|(_, total)| total.parse::<u64>().ok())
            .or_else(|| out.content_length().and_then(|n| u64::try_from(n).ok()))
            .unwrap_or(0);
        // The bucket is versioned: the version id names exactly these bytes, and `copy`
        // copies that version. Unversioned (`null`), the ETag is checked by the copy instead.
        let version = match out.version_id().filter(|v| *v != "null") {
            Some(id) => format!("{VERSION_ID}{id}"),
            None => format!("{ETAG}{}", out.e_tag().unwrap_or_default()),
        };
        let mut bytes = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Backend(e.to_string()))?
            .into_bytes()
            .to_vec();
        bytes.truncate(len);
        Ok(Some(BlobPrefix {
            bytes,
            size,
            version,
        }))
    }

    async fn presign_upload(
        &self,
        scope: &BlobScope,
        name: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<UploadTicket, BlobError> {
        if !name.starts_with(UPLOAD_PREFIX) {
            return Err(BlobError::InvalidName);
        }
        let lifetime =
            std::time::Duration::from_secs(u64::try_from(expires_in.whole_seconds()).unwrap_or(60));
        let config = PresigningConfig::expires_in(lifetime)
            .map_err(|e| BlobError::Backend(e.to_string()))?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::object_key(scope, name)?)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&scope.master_key)
            .bucket_key_enabled(true)
            .presigned(config)
            .await
            .map_err(|e| BlobError::Backend(describe(&e)))?;
        Ok(UploadTicket {
            url: presigned.uri().to_string(),
            method: presigned.method().to_string(),
            headers: presigned
                .headers()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }
}
