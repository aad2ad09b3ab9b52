// The live grid: every tile's frames come over one WebSocket (/ws/live), drawn on canvases.
"use strict";
(() => {
  const el = vigil.el;
  const tiles = new Map(); // camera id -> { canvas, info, frames, since }

  function tile(cam) {
    const canvas = el("canvas", { width: 640, height: 360, "aria-label": `Live video of ${cam.name}` });
    const info = el("span", { class: "badge" }, "waiting");
    const node = el("figure", { class: "tile", "data-camera": cam.camera_id },
      canvas, el("figcaption", {}, el("span", { class: "name" }, cam.name), info));
    tiles.set(cam.camera_id, { canvas, info, frames: 0, since: performance.now(), shown: 0 });
    return node;
  }

  async function draw(data) {
    const bytes = new Uint8Array(data);
    const n = bytes[0];
    const id = new TextDecoder().decode(bytes.subarray(1, 1 + n));
    const t = tiles.get(id);
    if (!t) return;
    const bitmap = await createImageBitmap(new Blob([bytes.subarray(9 + n)], { type: "image/jpeg" }));
    t.canvas.width = bitmap.width;
    t.canvas.height = bitmap.height;
    t.canvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    t.frames += 1;
    t.shown += 1;
    if (t.shown === 1) t.info.textContent = "live";
    t.canvas.dataset.frames = String(t.shown);
  }

  function rates() {
    const now = performance.now();
    for (const t of tiles.values()) {
      const fps = (t.frames * 1000) / Math.max(1, now - t.since);
      t.info.textContent = `${fps.toFixed(1)} fps`;
      t.frames = 0;
      t.since = now;
    }
  }

  async function start() {
    const cams = await vigil.api("GET", "/api/cameras");
    const grid = document.getElementById("live");
    grid.replaceChildren(...(cams.length ? cams.map(tile) : [el("p", { class: "muted" }, "No camera to show.")]));
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ cameras: cams.map((c) => c.camera_id), fps: 10 }));
    ws.onmessage = (m) => { if (typeof m.data !== "string") draw(m.data); };
    ws.onclose = () => setTimeout(start, 2000);
    setInterval(rates, 2000);
  }

  document.getElementById("layout").addEventListener("change", (e) => {
    const grid = document.getElementById("live");
    grid.className = `live-grid cols-${e.target.value}`;
  });
  start().catch((error) => console.error(error));
})();
