//! Reading TLS's PEM files: certificate chains, private keys and certificate authorities, each
//! refused with a [`TlsFileError`] that names the file and what is wrong with it.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The most a PEM file may hold: a chain of a few certificates is some kilobytes, and a file
/// far larger is not one (a device, a log) and must not be read into memory.
const MAX_PEM: u64 = 1024 * 1024;

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    /// The file could not be read.
    #[error("cannot read {}: {reason}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// The file holds no PEM object of the kind needed.
    #[error("{} holds no PEM {what}", .path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// `certificate` or `private key`.
        what: &'static str,
    },
    /// The certificates and key were read but do not make a usable pair or store.
    #[error("{}: {reason}", .path.display())]
    Invalid {
        /// The file (the key's, for a key that does not match its certificate).
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
}

/// The bytes of the PEM file at `path`: a regular file of at most a mebibyte, read so that a
/// FIFO or a device named in its place cannot block a reload.
fn read(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    crate::operator_file::read_operator_file(path, MAX_PEM, "a PEM file").map_err(|problem| {
        let reason = match problem {
            crate::FileProblem::Read(error) => crate::describe::describe(&error),
            crate::FileProblem::NotAFile(why) => why,
        };
        TlsFileError::Read {
            path: path.to_owned(),
            reason,
        }
    })
}

/// The certificates in the PEM file at `path`, in order: a server's or client's own first,
/// then the intermediates that signed it.
///
/// # Errors
/// [`TlsFileError`] when the file cannot be read, is not PEM, or holds no certificate.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsFileError::Invalid {
            path: path.to_owned(),
            reason: format!("not a PEM file of certificates ({error})"),
        })?;
    if certs.is_empty() {
        return Err(TlsFileError::Missing {
            path: path.to_owned(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// The private key in the PEM file at `path` (PKCS#8, PKCS#1 or SEC1: ECDSA, Ed25519, RSA).
///
/// # Errors
/// [`TlsFileError`] when the file cannot be read or holds no private key.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => TlsFileError::Missing {
            path: path.to_owned(),
            what: "private key",
        },
        error => TlsFileError::Invalid {
            path: path.to_owned(),
            reason: format!("not a PEM private key ({error})"),
        },
    })
}

/// A store of the certificate authorities in the PEM file at `path`.
///
/// # Errors
/// [`TlsFileError`] when the file cannot be read or holds no usable certificate.
pub fn authorities(path: &Path) -> Result<rustls::RootCertStore, TlsFileError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(path)? {
        roots.add(cert).map_err(|error| TlsFileError::Invalid {
            path: path.to_owned(),
            reason: format!("not a usable certificate authority ({error})"),
        })?;
    }
    Ok(roots)
}
