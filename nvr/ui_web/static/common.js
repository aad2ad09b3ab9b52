// Shared by every page: JSON calls with the CSRF token, and safe DOM building (text only,
// never HTML from data).
"use strict";
const vigil = {
  csrf: "",
  async api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && vigil.csrf) headers["X-CSRF-Token"] = vigil.csrf;
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && !path.startsWith("/api/login")) {
      window.location.assign("/login");
      throw new Error("signed out");
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new Error((data && (data.detail || data.error)) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  },
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },
  time(ns) {
    return new Date(Number(BigInt(ns) / 1000000n)).toLocaleTimeString();
  },
  fields(form) {
    return Object.fromEntries(new FormData(form).entries());
  },
};
