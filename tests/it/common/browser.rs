//! A real headless Chromium driven over the DevTools protocol (CDP), for
//! tests of the status page: open a page, type, press keys, read the DOM
//! through JavaScript, take a screenshot.
//!
//! A thin client of our own over one WebSocket (tokio-tungstenite) rather
//! than chromiumoxide or headless_chrome: the handful of commands used here
//! do not justify compiling either crate's generated bindings of the whole
//! protocol (see docs/dependencies.md).
//!
//! Chromium is Debian's `chromium` (`.ci/run` installs it), or the binary
//! `CAMPAIGND_CHROMIUM` names. A missing browser fails the test: it is never
//! skipped.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one protocol command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One browser with one page. Its methods take `&self` (the connection is
/// behind a lock), so a test can poll it from `common::poll_until`.
pub struct Browser {
    devtools: tokio::sync::Mutex<DevTools>,
    _child: Child,
    _profile: tempfile::TempDir,
}

/// The protocol connection: commands and their answers, one at a time.
struct DevTools {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// The page's session (commands without one go to the browser itself).
    page: Option<String>,
}

impl Browser {
    /// Start headless Chromium with a fresh profile and open one blank page
    /// of `width` × `height` CSS pixels.
    pub async fn launch(width: u32, height: u32) -> Browser {
        let path = std::env::var("CAMPAIGND_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&path).exists(),
            "no Chromium at {path}: install Debian's `chromium` (.ci/run does) or set CAMPAIGND_CHROMIUM"
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(&path)
            .args([
                "--headless",
                // Tests run as root in a container, where Chromium's sandbox
                // cannot start; the browser only ever loads our loopback page.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start Chromium ({path}): {e}"));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut said = Vec::new();
        let find = async {
            while let Some(line) = lines.next_line().await.expect("read Chromium's stderr") {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return Some(url.trim().to_string());
                }
                said.push(line);
            }
            None
        };
        let url = tokio::time::timeout(Duration::from_secs(60), find)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("Chromium printed no DevTools address; it said:\n{}", said.join("\n")));
        // Keep reading its stderr, so a chatty browser never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect to Chromium's DevTools");
        let mut devtools = DevTools { ws, next_id: 0, page: None };
        let target = devtools.call("Target.createTarget", json!({ "url": "about:blank" })).await.expect("a page");
        let attached = devtools
            .call("Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true }))
            .await
            .expect("attach to the page");
        devtools.page = Some(attached["sessionId"].as_str().expect("a page session").to_string());
        let browser = Browser { devtools: tokio::sync::Mutex::new(devtools), _child: child, _profile: profile };
        browser
            .call(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
            )
            .await;
        browser
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        let answer = self.devtools.lock().await.call(method, params).await;
        answer.unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    /// Poll `expression` until it is neither null nor false (at most 30
    /// s), and answer its value.
    pub async fn wait_for(&self, what: &str, expression: &str) -> Value {
        super::poll_until(Duration::from_secs(30), what, || async {
            let v = self.eval(expression).await;
            (!v.is_null() && v != Value::Bool(false)).then_some(v)
        })
        .await
    }

    /// Load `url` in the page (the page's own load completes later: wait
    /// for what it shows with [`Browser::eval`]).
    pub async fn goto(&self, url: &str) {
        let r = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(r.get("errorText").is_none(), "navigate to {url}: {}", r["errorText"]);
    }

    /// The value of a JavaScript expression in the page (awaited when it
    /// is a promise); null for `undefined`.
    /// While the page navigates, an evaluation may find no document to run
    /// in: that is null too, the next poll sees the new page.
    pub async fn eval(&self, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let r = match self.devtools.lock().await.call("Runtime.evaluate", params).await {
            Ok(r) => r,
            Err(error) if error.contains("context") => return Value::Null,
            Err(error) => panic!("{expression}: {error}"),
        };
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {}", r["exceptionDetails"]);
        r["result"].get("value").cloned().unwrap_or(Value::Null)
    }

    /// Focus the element `selector` finds and type `text` into it, as
    /// keyboard input.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let sel = serde_json::to_string(selector).expect("a string");
        let found = self
            .eval(&format!("(() => {{ const e = document.querySelector({sel}); e && e.focus(); return !!e; }})()"))
            .await;
        assert_eq!(found, true, "no element {selector}");
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Press Enter in the focused element (submits its form).
    pub async fn press_enter(&self) {
        for kind in ["keyDown", "keyUp"] {
            let mut key = json!({ "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13 });
            if kind == "keyDown" {
                key["text"] = "\r".into();
            }
            self.call("Input.dispatchKeyEvent", key).await;
        }
    }

    /// A PNG of the whole page, beyond the window's height too.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let clip = json!({ "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 });
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }))
            .await;
        base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("image data")).expect("base64")
    }
}

impl DevTools {
    /// Send one command and wait for its answer (events in between are
    /// not needed here and dropped).
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(page) = &self.page {
            message["sessionId"] = page.clone().into();
        }
        self.ws.send(Message::text(message.to_string())).await.unwrap_or_else(|e| panic!("send {method}: {e}"));
        let answer = async {
            while let Some(frame) = self.ws.next().await {
                let Message::Text(text) = frame.unwrap_or_else(|e| panic!("{method}: {e}")) else { continue };
                let v: Value = serde_json::from_str(&text).expect("DevTools sends JSON");
                if v["id"] == id {
                    return v;
                }
            }
            panic!("{method}: Chromium closed the connection")
        };
        let v = tokio::time::timeout(COMMAND_TIMEOUT, answer)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within {COMMAND_TIMEOUT:?}"));
        match v.get("error") {
            Some(error) => Err(error.to_string()),
            None => Ok(v["result"].clone()),
        }
    }
}
