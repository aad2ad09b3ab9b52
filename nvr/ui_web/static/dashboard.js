// The dashboard: health, camera grid, recent motion, storage, users (admins), and toasts
// from the /ws notification socket. Everything is built with text nodes (no innerHTML).
"use strict";
(function () {
  const { api, el } = vigil;
  let me = null;
  const can = (action) => me && me.actions.includes(action);

  function toast(text, level) {
    const box = document.getElementById("toasts");
    const item = el("div", { class: `toast ${level || "info"}`, role: "status" }, text);
    box.append(item);
    while (box.children.length > 5) box.firstChild.remove();
    setTimeout(() => item.remove(), 8000);
  }

  function cameraCard(cam) {
    const thumb = cam.thumbnail
      ? el("img", { src: cam.thumbnail, alt: `Latest picture from ${cam.name}`, loading: "lazy" })
      : el("div", { class: "nothumb" }, "No picture yet");
    const state = cam.connected
      ? el("span", { class: "badge ok" }, "online")
      : el("span", { class: "badge bad" }, "lost");
    const rec = cam.recording
      ? el("span", { class: "badge warn" }, `rec ${cam.recording}`)
      : el("span", { class: "badge", title: cam.not_recording_because || "" }, "idle");
    return el("article", { class: cam.connected ? "camera" : "camera lost", "data-camera": cam.camera_id },
      thumb, el("div", { class: "meta" }, el("span", { class: "name" }, cam.name), state, rec));
  }

  async function loadCameras() {
    const cams = await api("GET", "/api/cameras");
    const grid = document.getElementById("cameras");
    grid.replaceChildren(...(cams.length ? cams.map(cameraCard)
      : [el("p", { class: "muted" }, "No camera to show.")]));
  }

  async function loadMotion() {
    const events = await api("GET", "/api/motion?limit=20");
    document.getElementById("motion").replaceChildren(...events.map((m) =>
      el("li", {}, el("time", {}, vigil.time(m.start_ns)), `${m.camera_id}`,
        m.peak_confidence === null ? "" : ` ${Math.round(m.peak_confidence * 100)}%`)));
  }

  async function loadStorage() {
    const s = await api("GET", "/api/storage");
    const gib = (b) => (b / 2 ** 30).toFixed(1);
    const rows = s.volumes.map((v) => {
      const used = v.total_bytes ? (1 - v.free_bytes / v.total_bytes) * 100 : 0;
      return [el("div", {}, `${v.volume}: ${v.level}, ${gib(v.free_bytes)} GiB free`),
        el("div", { class: "meter" }, el("span", { "data-width": used.toFixed(0) }))];
    });
    const total = el("p", {}, `Recordings: ${gib(s.total_bytes)} GiB`);
    document.getElementById("storage").replaceChildren(total, ...rows.flat());
    // Widths set from script, not inline style attributes (the CSP forbids those).
    for (const bar of document.querySelectorAll(".meter span")) bar.style.width = `${bar.dataset.width}%`;
  }

  async function loadHealth() {
    const badge = document.getElementById("health");
    if (!can("system.view")) { badge.hidden = true; return; }
    const h = await api("GET", "/api/health");
    badge.textContent = h.ok ? "healthy"
      : `${h.cameras_connected}/${h.cameras_total} cameras`;
    badge.className = `badge ${h.ok ? "ok" : "warn"}`;
  }

  async function loadUsers() {
    const users = await api("GET", "/api/users");
    const body = document.querySelector("#users tbody");
    body.replaceChildren(...users.map((u) => {
      const off = el("button", { type: "button", disabled: u.disabled || u.username === me.username }, u.disabled ? "disabled" : "Disable");
      off.addEventListener("click", async () => {
        if (!window.confirm(`Disable ${u.username}?`)) return;
        try { await api("POST", `/api/users/${encodeURIComponent(u.username)}/disable`, {}); }
        catch (error) { toast(error.message, "warning"); }
        refresh();
      });
      return el("tr", {}, el("td", {}, u.username), el("td", {}, u.role),
        el("td", {}, u.cameras === null ? "all" : u.cameras.join(", ")), el("td", {}, off));
    }));
  }

  async function refresh() {
    const jobs = [loadCameras(), loadHealth()];
    if (can("playback.view")) jobs.push(loadMotion());
    if (can("system.view")) jobs.push(loadStorage());
    if (can("users.manage")) jobs.push(loadUsers());
    const results = await Promise.allSettled(jobs);
    for (const r of results) if (r.status === "rejected") console.warn(r.reason);
  }

  function connect(delay) {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws`);
    socket.addEventListener("message", (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type !== "notice") return;
      toast(msg.text, msg.level);
      if (msg.kind === "motion" && can("playback.view")) loadMotion().catch(() => {});
      else if (msg.kind === "storage") loadStorage().catch(() => {});
      else loadCameras().catch(() => {});
    });
    socket.addEventListener("open", () => { delay = 1000; });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) { window.location.assign("/login"); return; }
      setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    });
  }

  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/logout"); } finally { window.location.assign("/login"); }
  });

  document.getElementById("add-user").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const f = vigil.fields(form);
    const cameras = f.cameras.trim() ? f.cameras.split(",").map((c) => c.trim()).filter(Boolean) : null;
    try {
      await api("POST", "/api/users", { username: f.username, role: f.role, password: f.password, cameras });
      form.reset();
      form.querySelector(".form-error").textContent = "";
      refresh();
    } catch (error) {
      form.querySelector(".form-error").textContent = error.message;
    }
  });

  (async function start() {
    me = await api("GET", "/api/me");
    vigil.csrf = me.csrf;
    document.getElementById("who").textContent = `${me.username} (${me.role})`;
    document.getElementById("motion-panel").hidden = !can("playback.view");
    document.getElementById("storage-panel").hidden = !can("system.view");
    document.getElementById("users-panel").hidden = !can("users.manage");
    await refresh();
    setInterval(refresh, 30000);
    connect(1000);
  })();
})();
