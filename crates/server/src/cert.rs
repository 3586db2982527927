//! [`cert`]: `upcase cert`, a certificate and key for trying TLS on one machine, without
//! knowing openssl: self-signed, for `localhost`, `127.0.0.1` and `::1` (and any `--name`),
//! so that the certificate file is also what a client trusts (`--cacert`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use rcgen::{CertificateParams, KeyPair, SanType};

/// How long a certificate from `upcase cert` is valid: long enough to try things, short
/// enough that one left on a server does not outlive its use for long.
const VALID_DAYS: i64 = 90;

/// Flags of `upcase cert`.
#[derive(Debug, Clone, Args)]
pub struct CertArgs {
    /// Where to write the certificate, PEM; it is also what clients trust (--cacert)
    #[arg(long, value_name = "FILE", default_value = "cert.pem")]
    pub cert: PathBuf,

    /// Where to write the private key, PEM, readable by its owner alone
    #[arg(long, value_name = "FILE", default_value = "key.pem")]
    pub key: PathBuf,

    /// Another name or address the certificate is for, beside localhost, 127.0.0.1 and ::1;
    /// repeat for more
    #[arg(long, value_name = "NAME")]
    pub name: Vec<String>,

    /// The key's algorithm: ecdsa (P-256) or ed25519
    #[arg(long, value_name = "ALGORITHM", value_enum, default_value_t = Algorithm::Ecdsa)]
    pub algorithm: Algorithm,

    /// Replace files that exist already
    #[arg(long)]
    pub force: bool,
}

/// A key algorithm `upcase cert` can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256: what every TLS client takes.
    Ecdsa,
    /// Ed25519: smaller and faster, not taken by some older clients.
    Ed25519,
}

/// Why `upcase cert` could not write its files.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file is there already.
    #[error("{} exists already; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    /// A name that cannot be in a certificate.
    #[error("`{0}` cannot be a certificate's name")]
    Name(String),
    /// The certificate could not be made.
    #[error("cannot make the certificate: {0}")]
    Make(String),
    /// A file could not be written.
    #[error("cannot write {}: {reason}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
}

impl CertError {
    /// The exit code: 2 for what the user can change by flags, 1 for the system's failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CertError::Exists(_) | CertError::Name(_) => 2,
            CertError::Make(_) | CertError::Write { .. } => 1,
        }
    }
}

/// Runs `upcase cert`: writes the certificate and key, and says how to use them on stdout.
///
/// # Errors
/// [`CertError`] when a file exists (without `--force`), a name is not one, or a file cannot
/// be written.
pub fn cert(args: &CertArgs) -> Result<String, CertError> {
    for path in [&args.cert, &args.key] {
        if !args.force && path.exists() {
            return Err(CertError::Exists(path.clone()));
        }
    }
    let Pem { cert, key } = make(args)?;
    write(&args.key, key.as_bytes(), 0o600)?;
    write(&args.cert, cert.as_bytes(), 0o644)?;
    Ok(format!(
        "wrote {cert} and {key}, valid for {VALID_DAYS} days for localhost, 127.0.0.1 and ::1{more}\n\
         serve:  upcase server --tls --cert {cert} --key {key}\n\
         try:    upcase client --tls --cacert {cert} hello\n",
        cert = args.cert.display(),
        key = args.key.display(),
        more = if args.name.is_empty() {
            String::new()
        } else {
            format!(" and {}", args.name.join(", "))
        },
    ))
}

/// A certificate and its key, each PEM text.
struct Pem {
    cert: String,
    key: String,
}

/// The certificate and key.
fn make(args: &CertArgs) -> Result<Pem, CertError> {
    let make = |error: rcgen::Error| CertError::Make(error.to_string());
    let algorithm = match args.algorithm {
        Algorithm::Ecdsa => &rcgen::PKCS_ECDSA_P256_SHA256,
        Algorithm::Ed25519 => &rcgen::PKCS_ED25519,
    };
    let key = KeyPair::generate_for(algorithm).map_err(make)?;
    let mut params = CertificateParams::default();
    let names = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(str::to_owned)
        .chain(args.name.iter().cloned());
    for name in names {
        params.subject_alt_names.push(san(&name)?);
    }
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "upcase (made by upcase cert)");
    let now = time::OffsetDateTime::now_utc();
    // An hour back, for clocks a little behind this one.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
    let cert = params.self_signed(&key).map_err(make)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

fn san(name: &str) -> Result<SanType, CertError> {
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    name.to_owned()
        .try_into()
        .map(SanType::DnsName)
        .map_err(|_| CertError::Name(name.to_owned()))
}

/// Writes `bytes` to `path` with `mode`, replacing it whole.
fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CertError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |error: std::io::Error| CertError::Write {
        path: path.to_owned(),
        reason: upcase_transport::describe(&error),
    };
    // A key must never be readable by others, even for a moment: made with its mode, and a
    // file there already is removed first, since opening it would keep its old mode.
    if path.exists() {
        std::fs::remove_file(path).map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}
