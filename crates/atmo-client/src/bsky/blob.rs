//! Uploading blobs (images, video) with their MIME type guessed from their
//! first bytes.

use std::path::Path;

use atmo_api::com::atproto::repo::upload_blob;
use atmo_types::xrpc::RawBody;
use atmo_types::Blob;

use crate::agent::Agent;
use crate::error::Error;
use crate::session::SessionManager;

/// The type sent when [`guess_mime_type`] does not recognise the bytes.
pub const UNKNOWN_MIME_TYPE: &str = "application/octet-stream";

/// The MIME type of an image or video from its first bytes (its "magic
/// number"), for the formats Bluesky clients upload: PNG, JPEG, GIF, WebP,
/// AVIF, HEIC/HEIF, TIFF, MP4, QuickTime, 3GPP, WebM/Matroska. `None` for
/// anything else (the upload helpers then send
/// [`UNKNOWN_MIME_TYPE`]). Only the bytes are looked at, never a file name.
pub fn guess_mime_type(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if starts(b"\xff\xd8\xff") {
        return Some("image/jpeg");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some("image/gif");
    }
    if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Some("image/webp");
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some("image/tiff");
    }
    if starts(b"\x1a\x45\xdf\xa3") {
        // EBML: the document type names WebM or Matroska near the start.
        let head = bytes.get(..64.min(bytes.len())).unwrap_or_default();
        let webm = head.windows(4).any(|w| w == b"webm");
        return Some(if webm {
            "video/webm"
        } else {
            "video/x-matroska"
        });
    }
    // ISO base media files: a box of type `ftyp` whose major brand says what
    // the file is.
    if bytes.get(4..8) == Some(b"ftyp") {
        let brand = bytes.get(8..12)?;
        return Some(match brand {
            b"avif" | b"avis" => "image/avif",
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => "image/heic",
            b"mif1" | b"msf1" => "image/heif",
            b"qt  " => "video/quicktime",
            b"3gp4" | b"3gp5" | b"3gp6" | b"3g2a" => "video/3gpp",
            _ => "video/mp4",
        });
    }
    None
}

impl<M: SessionManager> Agent<M> {
    /// Uploads `bytes` as a blob (`com.atproto.repo.uploadBlob`) with the
    /// MIME type [`guess_mime_type`] finds (or [`UNKNOWN_MIME_TYPE`]); the
    /// [`Blob`] returned goes into a record (an image embed, an avatar)
    /// written soon after, or the server drops it.
    pub async fn upload_blob(
        &self,
        bytes: impl Into<Vec<u8>>,
    ) -> Result<Blob, Error<upload_blob::Error>> {
        let bytes = bytes.into();
        let mime = guess_mime_type(&bytes).unwrap_or(UNKNOWN_MIME_TYPE);
        self.upload_blob_as(bytes, mime).await
    }

    /// [`Agent::upload_blob`] with the MIME type given.
    pub async fn upload_blob_as(
        &self,
        bytes: impl Into<Vec<u8>>,
        mime_type: &str,
    ) -> Result<Blob, Error<upload_blob::Error>> {
        let out = self
            .call::<upload_blob::UploadBlob>((), RawBody::new(mime_type, bytes.into()))
            .await?;
        Ok(out.blob)
    }

    /// Reads the file at `path` and uploads it like [`Agent::upload_blob`].
    /// A file that cannot be read is [`Error::Invalid`] naming the path.
    ///
    /// With the `hyper` feature (and so tokio's runtime) the file is read
    /// without blocking the async thread; without it, on the calling thread
    /// (the HTTP-free core carries no runtime): read large files yourself
    /// and call [`Agent::upload_blob`].
    pub async fn upload_file(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<Blob, Error<upload_blob::Error>> {
        let path = path.as_ref();
        #[cfg(feature = "hyper")]
        let bytes = tokio::fs::read(path).await;
        #[cfg(not(feature = "hyper"))]
        let bytes = std::fs::read(path);
        let bytes =
            bytes.map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
        self.upload_blob(bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_common_formats_from_their_first_bytes() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("image/png")),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", Some("image/jpeg")),
            (b"GIF89a\x01\0", Some("image/gif")),
            (b"GIF87a", Some("image/gif")),
            (b"RIFF\x24\0\0\0WEBPVP8 ", Some("image/webp")),
            (b"RIFF\x24\0\0\0WAVEfmt ", None),
            (b"II*\0\x08\0\0\0", Some("image/tiff")),
            (b"\0\0\0\x1cftypavif\0\0\0\0", Some("image/avif")),
            (b"\0\0\0\x18ftypheic\0\0\0\0", Some("image/heic")),
            (b"\0\0\0\x18ftypmif1\0\0\0\0", Some("image/heif")),
            (b"\0\0\0\x20ftypisom\0\0\x02\0", Some("video/mp4")),
            (b"\0\0\0\x14ftypqt  \0\0\0\0", Some("video/quicktime")),
            (b"\0\0\0\x14ftyp3gp4", Some("video/3gpp")),
            (
                b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm",
                Some("video/webm"),
            ),
            (
                b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska",
                Some("video/x-matroska"),
            ),
            (b"\0\0\0\x14ftyp", None),
            (b"hello", None),
            (b"", None),
            (b"\x89PN", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(guess_mime_type(bytes), *want, "{bytes:?}");
        }
    }
}
