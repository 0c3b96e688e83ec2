// The live page: polls /api/status and /api/events; the picture is the MJPEG stream in <img id="live">.
// Same origin only, no third-party code: the kiosk serves every file of this page itself.
"use strict";

const $ = (id) => document.getElementById(id);
const NAMES = { WithMask: "mask", WithoutMask: "no mask" };

function text(id, value, cls) {
  const el = $(id);
  el.textContent = value;
  if (cls !== undefined) el.className = cls;
}

function state(value, okWord) {
  return value === okWord ? ["ok", "ok-text"] : [value, value.startsWith("degraded") ? "warn-text" : "bad-text"];
}

function showStatus(s) {
  const h = s.health;
  text("overall", h.status, "pill " + h.status);
  text("pipeline", s.pipeline || "");
  const counts = s.today ? s.today : s.since_start;
  text("today-mask", counts.people.WithMask || 0);
  text("today-nomask", counts.people.WithoutMask || 0);
  text("today-alerts", Object.values(counts.alerts || {}).reduce((a, b) => a + b, 0));
  const p = s.since_start.people;
  text("since-start", `${p.WithMask || 0} with, ${p.WithoutMask || 0} without mask`);
  text("h-camera", ...state(s.camera, "ok"));
  text("h-detector", s.detector, s.detector === "running" ? "ok-text" : "bad-text");
  text("h-log", ...state(s.event_log, "ok"));
  if (s.mqtt === null) text("h-mqtt", "off", "");
  else text("h-mqtt", s.mqtt.connected ? `connected, ${s.mqtt.sent} sent, ${s.mqtt.backlog} waiting`
                                       : `broker down, ${s.mqtt.backlog} waiting`, s.mqtt.connected ? "ok-text" : "warn-text");
  text("fps", s.fps.toFixed(1));
  text("stages", Object.entries(s.stages_ms).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(" · ") || "–");
  const l = s.latency_ms;
  text("latency", l["0.5"] !== undefined ? `${l["0.5"].toFixed(1)} / ${l["0.9"].toFixed(1)} ms` : "–");
  text("faces-note", s.stream.faces === "shown" ? "faces shown (stream_faces: true)"
       : `faces hidden (${s.stream.faces}); at most ${s.stream.max_fps} frames per second, made only while watched`);
  document.body.dataset.frames = h.frames;
}

function showEvents(events) {
  const body = document.querySelector("#events tbody");
  body.replaceChildren(...events.map((e) => {
    const tr = document.createElement("tr");
    const when = new Date(e.time * 1000).toLocaleTimeString();
    const label = NAMES[e.label] || e.label;
    for (const v of [when, e.type, "#" + e.track_id, label, e.score.toFixed(2)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    if (e.label === "WithoutMask" || e.type === "alert") tr.className = "bad-text";
    return tr;
  }));
}

async function poll(url, show, every) {
  for (;;) {
    try {
      const r = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      if (r.ok) show(await r.json());
      else if (r.status === 401) text("overall", "token needed: open /?token=…", "pill unhealthy");
    } catch (err) {
      text("overall", "kiosk unreachable", "pill unhealthy");
    }
    await new Promise((done) => setTimeout(done, every));
  }
}

// A stream that ends (kiosk restarted, network blip) is reopened.
$("live").addEventListener("error", () => setTimeout(() => { $("live").src = "/stream.mjpg?" + Date.now(); }, 2000));
poll("/api/status", showStatus, 1000);
poll("/api/events", (d) => showEvents(d.events), 2000);
