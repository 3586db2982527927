//! Flags over the config file over the defaults, and every way a config file can be wrong.

use std::io::Write;
use std::time::Duration;

use upcase_proto::Builtin;
use upcase_server::{Access, ConfigError, Options, ServerArgs, Settings};

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write");
    file
}

fn with_file(file: &tempfile::NamedTempFile, args: ServerArgs) -> Result<Settings, ConfigError> {
    Settings::resolve(&ServerArgs {
        config: Some(file.path().to_owned()),
        ..args
    })
}

#[test]
fn defaults_serve_both_on_12000_with_upper() {
    let settings = Settings::resolve(&ServerArgs::default()).expect("defaults");
    assert_eq!(
        settings,
        Settings {
            tls: None,
            tls_port: 12_443,
            quic: None,
            quic_port: 12_443,
            udp: true,
            tcp: true,
            bind: None,
            port: 12000,
            transform: Builtin::Upper,
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            metrics: None,
            options: Options::default(),
        }
    );
    let options = settings.options;
    assert_eq!(options.max_connections, 10_000);
    assert_eq!(options.max_connections_per_source, 256);
    assert_eq!(options.max_datagrams_per_source, 1_000);
    assert_eq!(options.idle_timeout, Duration::from_secs(300));
    assert_eq!(options.max_line, 65_536);
    assert_eq!(options.drain_timeout, Duration::from_secs(5));
    assert_eq!(options.access, Access::default());
    assert_eq!(options.buffer_budget, 96 * 1024 * 1024);
}

#[test]
fn every_flag_has_a_key() {
    let file = config_file(
        "udp = true\ntcp = false\nbind = \"::1\"\nport = 7000\ntransform = \"count=s\"\n\
         allow = [\"10.0.0.0/8\", \"::1\"]\ndeny = [\"10.6.6.6\"]\n\
         max-connections = 10\nmax-connections-per-source = 0\nmax-datagrams-per-source = 7\n\
         idle-timeout = \"1m\"\nmax-line = 80\ndrain-timeout = \"250ms\"\nworkers = 3\n\
         metrics = \"127.0.0.1:9100\"\nproxy-protocol = true\nbuffer-budget = 131072\n\
         proxy-from = [\"10.0.0.5\", \"64:ff9b::a00:6\"]\n",
    );
    let settings = with_file(&file, ServerArgs::default()).expect("valid file");
    assert_eq!((settings.udp, settings.tcp), (true, false));
    assert_eq!(settings.bind, Some("::1".parse().expect("ip")));
    assert_eq!(settings.port, 7000);
    assert_eq!(settings.transform.to_string(), "count=s");
    assert_eq!(settings.workers, 3);
    assert_eq!(
        settings.metrics,
        Some("127.0.0.1:9100".parse().expect("address"))
    );
    assert_eq!(
        settings.options,
        Options {
            max_connections: 10,
            max_connections_per_source: 0,
            max_datagrams_per_source: 7,
            idle_timeout: Duration::from_secs(60),
            max_line: 80,
            drain_timeout: Duration::from_millis(250),
            access: Access {
                allow: vec![net("10.0.0.0/8"), net("::1/128")],
                deny: vec![net("10.6.6.6/32")],
            },
            buffer_budget: 131_072,
            proxy_protocol: true,
            proxy_from: vec![net("10.0.0.5/32"), net("10.0.0.6/32")],
        }
    );
}

#[test]
fn flags_override_the_file() {
    let file = config_file(
        "udp = true\ntcp = false\nport = 7000\ntransform = \"lower\"\nmax-line = 5\nworkers = 5\n\
         deny = [\"10.0.0.0/8\"]\nallow = [\"10.0.0.0/8\"]\n",
    );
    let args = ServerArgs {
        tcp: true,
        port: Some(8000),
        transform: Some(Builtin::Echo),
        max_connections: Some(3),
        max_line: Some(9),
        workers: Some(2),
        deny: vec![net("192.0.2.0/24")],
        drain_timeout: Some(Duration::from_secs(1).into()),
        bind: Some("127.0.0.1".parse().expect("ip")),
        ..ServerArgs::default()
    };
    let settings = with_file(&file, args).expect("valid");
    assert_eq!((settings.udp, settings.tcp), (false, true));
    assert_eq!(settings.port, 8000);
    assert_eq!(settings.transform, Builtin::Echo);
    assert_eq!(settings.bind, Some("127.0.0.1".parse().expect("ip")));
    assert_eq!(settings.options.max_connections, 3);
    assert_eq!(settings.options.max_line, 9);
    assert_eq!(settings.workers, 2);
    assert_eq!(
        settings.options.access.deny,
        [net("192.0.2.0/24")],
        "the flags replace the list"
    );
    assert_eq!(
        settings.options.access.allow,
        [net("10.0.0.0/8")],
        "no flag: the file's list"
    );
}

fn net(text: &str) -> ipnet::IpNet {
    upcase_server::parse_network(text).expect("network")
}

#[test]
fn one_transport_key_alone_turns_the_other_off() {
    let file = config_file("tcp = true\n");
    let settings = with_file(&file, ServerArgs::default()).expect("valid");
    assert_eq!((settings.udp, settings.tcp), (false, true));
}

fn error_of(text: &str) -> (String, String) {
    let file = config_file(text);
    let message = with_file(&file, ServerArgs::default())
        .expect_err("invalid")
        .to_string();
    (message, file.path().display().to_string())
}

#[test]
fn unknown_key_is_named_with_file_and_line() {
    let (message, path) = error_of("port = 1\ncolour = \"red\"\n");
    assert!(
        message.starts_with(&format!(
            "config file {path}, line 2: unknown field `colour`"
        )),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

#[test]
fn wrong_type_is_named_with_file_and_line() {
    let (message, path) = error_of("\n\nport = \"twelve\"\n");
    assert!(
        message.starts_with(&format!("config file {path}, line 3: ")),
        "{message}"
    );
    assert!(message.contains("string"), "{message}");
    let (message, _) = error_of("port = 70000\n");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn bad_values_name_the_key_and_the_file() {
    for (text, key, detail) in [
        (
            "transform = \"shout\"",
            "transform",
            "unknown transform `shout`",
        ),
        (
            "bind = \"localhost\"",
            "bind",
            "`localhost` is not an IP address",
        ),
        ("drain-timeout = \"soon\"", "drain-timeout", "`soon`"),
        ("max-connections = 0", "max-connections", "at least 1"),
        ("max-line = 0", "max-line", "at least 1"),
        ("workers = 0", "workers", "at least 1"),
        (
            "metrics = \"9100\"",
            "metrics",
            "`9100` is not an address and port",
        ),
        ("idle-timeout = \"forever\"", "idle-timeout", "`forever`"),
        (
            "allow = [\"10.0.0.0/33\"]",
            "allow",
            "`10.0.0.0/33` is not a network",
        ),
        ("deny = [\"nobody\"]", "deny", "`nobody` is not a network"),
        (
            "udp = false\ntcp = false",
            "udp",
            "udp, tcp, tls and quic are all off",
        ),
    ] {
        let (message, path) = error_of(text);
        let start = format!("config file {path}: bad value for `{key}`: ");
        assert!(message.starts_with(&start), "{message}");
        assert!(message.contains(detail), "{message}");
    }
}

#[test]
fn unreadable_file_says_so() {
    let args = ServerArgs {
        config: Some("/nonexistent/upcase.toml".into()),
        ..ServerArgs::default()
    };
    let message = Settings::resolve(&args).expect_err("missing").to_string();
    assert_eq!(
        message,
        "cannot read config file /nonexistent/upcase.toml: no such file or directory; check the path given to --config"
    );
}

#[test]
fn broken_toml_is_one_line() {
    let (message, path) = error_of("port = [1,\n");
    assert!(
        message.starts_with(&format!("config file {path}, line ")),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn tls_keys_in_the_file_serve_tls_alone_and_flags_win() {
    let file = config_file(
        "tls = true\ntls-port = 8443\ncert = \"/etc/upcase/cert.pem\"\n\
         key = \"/etc/upcase/key.pem\"\nclient-ca = \"/etc/upcase/clients.pem\"\n",
    );
    let settings = with_file(&file, ServerArgs::default()).expect("valid");
    assert!(!settings.udp && !settings.tcp, "naming tls serves it alone");
    assert_eq!(settings.tls_port, 8443);
    let files = settings.tls.expect("tls served");
    assert_eq!(files.cert, std::path::Path::new("/etc/upcase/cert.pem"));
    assert_eq!(files.key, std::path::Path::new("/etc/upcase/key.pem"));
    assert_eq!(
        files.client_ca.as_deref(),
        Some(std::path::Path::new("/etc/upcase/clients.pem"))
    );
    // A transport named by flag replaces the file's choice.
    let args = ServerArgs {
        udp: true,
        tls_port: Some(9443),
        ..ServerArgs::default()
    };
    let settings = with_file(&file, args).expect("valid");
    assert!(settings.udp && settings.tls.is_none());
    assert_eq!(settings.tls_port, 9443);
    let defaults = Settings::resolve(&ServerArgs::default()).expect("defaults");
    assert_eq!((defaults.tls.is_none(), defaults.tls_port), (true, 12_443));
}

#[test]
fn tls_without_its_files_names_what_is_missing() {
    let (message, path) = error_of("tls = true\ncert = \"c.pem\"\n");
    assert_eq!(
        message,
        format!(
            "config file {path}: bad value for `key`: TLS needs --key FILE too (PEM files); \
             'upcase cert' writes a certificate and key for localhost"
        )
    );
}

#[test]
fn quic_keys_in_the_file_serve_quic_with_tls_files_and_flags_win() {
    let file = config_file(
        "quic = true\nquic-port = 8443\ncert = \"/etc/upcase/cert.pem\"\n\
         key = \"/etc/upcase/key.pem\"\n",
    );
    let settings = with_file(&file, ServerArgs::default()).expect("valid");
    assert!(!settings.udp && !settings.tcp && settings.tls.is_none());
    assert_eq!(settings.quic_port, 8443);
    let files = settings.quic.as_ref().expect("quic served");
    assert_eq!(files.cert, std::path::Path::new("/etc/upcase/cert.pem"));
    assert_eq!(settings.key_files(), Some(files));
    let args = ServerArgs {
        tls: true,
        quic: true,
        quic_port: Some(0),
        ..ServerArgs::default()
    };
    let settings = with_file(&file, args).expect("valid");
    assert!(settings.tls.is_some() && settings.quic.is_some());
    assert_eq!((settings.quic_port, settings.tls_port), (0, 12_443));
    let (message, _) = error_of("quic = true\n");
    assert!(
        message.contains("TLS needs --cert FILE and --key FILE"),
        "{message}"
    );
}
