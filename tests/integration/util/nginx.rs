//! nginx in the foreground with a `stream` block of the test's own: a real L4 balancer and
//! TLS terminator. `scripts/test.sh` installs nginx and its stream module.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::PATIENCE;

/// The stream module as Debian's libnginx-mod-stream installs it.
const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

fn nginx_binary() -> PathBuf {
    let path = Path::new("/usr/sbin/nginx");
    assert!(
        path.exists() && Path::new(STREAM_MODULE).exists(),
        "nginx or its stream module is missing: run the tests with `bash scripts/test.sh`, \
         which installs nginx and libnginx-mod-stream"
    );
    path.to_owned()
}

/// nginx in the foreground, killed when dropped.
pub struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nginx with its files in `dir` and `stream` as its `stream { … }` block's body, and
/// returns once it listens.
pub fn start_nginx(dir: &Path, stream: &str) -> Nginx {
    start_nginx_with(dir, stream, Command::new)
}

/// As `start_nginx`, the command made by `command` from nginx's path (to run it elsewhere,
/// like inside a network namespace).
pub fn start_nginx_with(
    dir: &Path,
    stream: &str,
    command: impl FnOnce(PathBuf) -> Command,
) -> Nginx {
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n\
         error_log {dir}/error.log warn;\npid {dir}/nginx.pid;\n\
         load_module {STREAM_MODULE};\n\
         events {{ worker_connections 256; }}\n\
         stream {{\n{stream}\n}}\n",
        dir = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).expect("write nginx.conf");
    let child = command(nginx_binary())
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let mut nginx = Nginx(child);
    // nginx writes its pid file once its sockets listen. (A test connection would reach a
    // server too, and count.)
    let started = Instant::now();
    while !dir.join("nginx.pid").exists() {
        if let Ok(Some(status)) = nginx.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            panic!("nginx exited with {status}:\n{log}");
        }
        assert!(
            started.elapsed() < PATIENCE,
            "nginx did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nginx
}

/// `server 127.0.0.1:PORT;` for each port: an upstream block's body.
pub fn upstream(ports: &[u16]) -> String {
    ports
        .iter()
        .map(|port| format!("server 127.0.0.1:{port};"))
        .collect()
}
