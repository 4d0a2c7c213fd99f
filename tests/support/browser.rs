//! Headless Chromium, driven over WebDriver (chromedriver on a loopback port), for the
//! inspector's browser tests.
//!
//! Chromium and chromedriver are Debian's (`/usr/bin/chromium`, `/usr/bin/chromedriver`;
//! `HOOKGUARD_CHROMIUM` and `HOOKGUARD_CHROMEDRIVER` name others). Without them a test
//! fails when `CI` is set, and otherwise says loudly on stderr that it did not run.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

/// How long a page has to show what a test waits for.
pub const PAGE_WAIT: Duration = Duration::from_secs(20);

fn find(variable: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// chromedriver (and the Chromium it started), killed when dropped, also when a test
/// panics half-way.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Its process group (the Chromium it started too), should a test have panicked
        // before closing its session; only when the group is chromedriver's own.
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let group = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|group| group.parse::<u32>().ok());
        if pid > 1 && group == Some(pid) {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A running chromedriver and a browser session on it; both ended when dropped.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
}

/// Starts headless Chromium, or `None` (having said so) when it is not installed and
/// the run is not CI's.
///
/// # Panics
///
/// When Chromium or chromedriver is missing and `CI` is set, or either fails to start.
pub async fn start(test: &str) -> Option<Browser> {
    let chromium = find(
        "HOOKGUARD_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let driver = find("HOOKGUARD_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        let message = format!(
            "{test}: headless Chromium is needed (apt-get install chromium chromium-driver, \
             or set HOOKGUARD_CHROMIUM and HOOKGUARD_CHROMEDRIVER)"
        );
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("\n==== SKIPPED: {message}: the browser test did NOT run ====\n");
        return None;
    };
    let port = super::support::free_port();
    let profile =
        std::env::temp_dir().join(super::support::unique_name("hookguard_chromium_profile"));
    std::fs::create_dir_all(&profile).expect("a profile folder");
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        profile: profile.clone(),
    };
    let address = format!("127.0.0.1:{port}");
    assert!(
        super::support::wait_for_listener(&address),
        "chromedriver did not start on {address}"
    );
    // Every switch that keeps Chromium off the network: the tests talk to 127.0.0.1 only.
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--no-default-browser-check".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-extensions".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1280,860".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": chromium, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://{address}"))
        .await
        .expect("a Chromium session");
    Some(Browser {
        client,
        _driver: driver,
    })
}

impl Browser {
    /// Ends the session (and Chromium), then chromedriver.
    pub async fn close(self) {
        let Browser { client, _driver } = self;
        let _ = client.close().await;
    }

    /// Runs `script` (a function body) in the page and gives back what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|err| panic!("script failed: {err}\n{script}"))
    }

    /// Waits until `script` returns something truthy (not null, false, 0 or ""), and
    /// gives it back.
    ///
    /// # Panics
    ///
    /// After [`PAGE_WAIT`], naming `what`.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let value = self.eval(script).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.eval("return document.body.innerText").await;
                panic!("{what}: not seen within {PAGE_WAIT:?}; the page shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens the inspector at `base` and waits until it is live (its history loaded
    /// and its event stream open).
    pub async fn open(&self, base: &str) {
        self.client
            .goto(&format!("{base}/"))
            .await
            .expect("the page");
        self.wait_for(
            "the inspector going live",
            "return document.body.dataset.live === 'true'",
        )
        .await;
    }

    /// Saves a PNG of the page to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(path, png).expect("the screenshot written");
    }
}
