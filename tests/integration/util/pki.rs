//! Certificates for the TLS tests, made with rcgen in a directory of their own: CAs, servers'
//! and clients' certificates, and ones expired, not yet valid, or for another name.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use time::{Duration, OffsetDateTime};

/// When a certificate is valid, around now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Now,
    Expired,
    NotYet,
}

/// A directory of PEM files.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

/// A certificate authority, and its certificate's file.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub cert: PathBuf,
}

/// A certificate and its key, as files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A new CA named `name`, written to `NAME-ca.pem`.
    pub fn ca(&self, name: &str) -> Ca {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("a CA");
        let cert = self.path(&format!("{name}-ca.pem"));
        write(&cert, &issuer.pem());
        Ca { issuer, cert }
    }

    /// A server's certificate for `names`, signed by `ca`, valid as `validity` says.
    pub fn server(&self, ca: &Ca, file: &str, names: &[&str], validity: Validity) -> Pair {
        let key = KeyPair::generate().expect("a key");
        self.leaf(
            ca,
            file,
            names,
            validity,
            ExtendedKeyUsagePurpose::ServerAuth,
            key,
        )
    }

    /// A server's certificate for localhost with a key of `algorithm`.
    pub fn server_with(
        &self,
        ca: &Ca,
        file: &str,
        algorithm: &'static rcgen::SignatureAlgorithm,
    ) -> Pair {
        let key = KeyPair::generate_for(algorithm).expect("a key");
        let names = ["localhost", "127.0.0.1", "::1"];
        self.leaf(
            ca,
            file,
            &names,
            Validity::Now,
            ExtendedKeyUsagePurpose::ServerAuth,
            key,
        )
    }

    /// A client's certificate, signed by `ca`.
    pub fn client(&self, ca: &Ca, file: &str) -> Pair {
        let key = KeyPair::generate().expect("a key");
        self.leaf(
            ca,
            file,
            &["client"],
            Validity::Now,
            ExtendedKeyUsagePurpose::ClientAuth,
            key,
        )
    }

    fn leaf(
        &self,
        ca: &Ca,
        file: &str,
        names: &[&str],
        validity: Validity,
        usage: ExtendedKeyUsagePurpose,
        key: KeyPair,
    ) -> Pair {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("names");
        params.extended_key_usages = vec![usage];
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = match validity {
            Validity::Now => (now - Duration::hours(1), now + Duration::days(30)),
            Validity::Expired => (now - Duration::days(30), now - Duration::days(1)),
            Validity::NotYet => (now + Duration::days(1), now + Duration::days(30)),
        };
        let cert = params.signed_by(&key, &ca.issuer).expect("signed");
        let pair = Pair {
            cert: self.path(&format!("{file}.pem")),
            key: self.path(&format!("{file}-key.pem")),
        };
        write(&pair.cert, &cert.pem());
        write(&pair.key, &key.serialize_pem());
        pair
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a PEM file");
}

/// `path` as an argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// socat serving TLS with `pair` on a free port of 127.0.0.1, a `tr a-z A-Z` forked for each
/// connection: a peer's TLS capitalization server. Killed when dropped.
pub fn socat_tls_server(pair: &Pair) -> (crate::util::Killed, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let listen = format!(
        "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={},key={}",
        arg(&pair.cert),
        arg(&pair.key)
    );
    let socat = std::process::Command::new("socat")
        .args([&listen, "SYSTEM:tr a-z A-Z"])
        .spawn()
        .expect("socat (scripts/test.sh installs it)");
    (crate::util::Killed(socat), port)
}
