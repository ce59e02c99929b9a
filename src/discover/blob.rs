//! The stored form of a `Params`/`Config` file: its `PartNo` rows joined in order, raw DEFLATE
//! (RFC 1951, no zlib header) unless the blob already starts with the UTF-8 BOM, and UTF-8 text
//! with an optional BOM.

use std::io::Read;

use flate2::read::DeflateDecoder;

/// The UTF-8 byte-order mark 1C writes before its texts.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// No metadata file comes near this; a bigger output is a corrupt or hostile blob.
pub const MAX_INFLATED: u64 = 256 << 20;

/// Why a stored file cannot be read, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("{table} has no file `{file}`")]
    Missing { table: &'static str, file: String },
    #[error("{table} file `{file}`: {message}")]
    Corrupt {
        table: &'static str,
        file: String,
        message: String,
    },
}

/// A stored file's text: parts joined, inflated when compressed, BOM removed.
pub fn file_text(table: &'static str, file: &str, parts: &[Vec<u8>]) -> Result<String, BlobError> {
    if parts.is_empty() {
        return Err(BlobError::Missing {
            table,
            file: file.to_string(),
        });
    }
    let corrupt = |message: String| BlobError::Corrupt {
        table,
        file: file.to_string(),
        message,
    };
    let stored = parts.concat();
    let bytes = if stored.starts_with(BOM) {
        stored
    } else {
        inflate(&stored, MAX_INFLATED).map_err(corrupt)?
    };
    let body = bytes.strip_prefix(BOM).unwrap_or(&bytes);
    String::from_utf8(body.to_vec()).map_err(|e| corrupt(format!("the text is not UTF-8 ({e})")))
}

/// Raw DEFLATE with an output cap.
fn inflate(stored: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    DeflateDecoder::new(stored)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a raw DEFLATE stream ({e})"))?;
    if out.len() as u64 > limit {
        return Err(format!("inflates to more than {limit} bytes"));
    }
    Ok(out)
}

/// Raw DEFLATE, as 1C stores its files (used by the fixture generator).
pub fn deflate(text: &[u8]) -> Vec<u8> {
    use flate2::write::DeflateEncoder;
    use std::io::Write;
    let mut encoder = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(text)
        .and_then(|_| encoder.finish())
        .expect("writing to memory does not fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(text: &str) -> Vec<u8> {
        deflate(&[BOM, text.as_bytes()].concat())
    }

    #[test]
    fn joins_parts_in_order_inflates_and_strips_the_bom() {
        let blob = stored("{1,\"Документ\"}");
        let parts: Vec<Vec<u8>> = blob.chunks(5).map(<[u8]>::to_vec).collect();
        assert_eq!(
            file_text("Params", "DBNames", &parts).unwrap(),
            "{1,\"Документ\"}"
        );
    }

    #[test]
    fn a_blob_starting_with_the_bom_is_not_inflated() {
        let parts = vec![[BOM, b"{2}"].concat()];
        assert_eq!(file_text("Config", "root", &parts).unwrap(), "{2}");
    }

    #[test]
    fn missing_corrupt_and_oversized_blobs_are_errors() {
        assert_eq!(
            file_text("Params", "DBNames", &[]).unwrap_err().to_string(),
            "Params has no file `DBNames`"
        );
        let garbage = vec![vec![0xff, 0xff, 0xff, 0x00, 0x13]];
        let error = file_text("Config", "root", &garbage).unwrap_err();
        assert!(
            error.to_string().contains("not a raw DEFLATE stream"),
            "{error}"
        );
        let not_utf8 = vec![deflate(&[0xc3, 0x28])];
        let error = file_text("Config", "root", &not_utf8).unwrap_err();
        assert!(error.to_string().contains("not UTF-8"), "{error}");
        let big = deflate(&vec![b'x'; 4096]);
        assert!(inflate(&big, 1024).unwrap_err().contains("more than 1024"));
    }

    #[test]
    fn a_truncated_blob_is_an_error() {
        let blob = stored("{1,{2,\"three\"},4}");
        let cut = &blob[..blob.len() / 2];
        let error = file_text("Config", "root", &[cut.to_vec()]).unwrap_err();
        assert!(error.to_string().contains("incomplete"), "{error}");
    }
}
