// The sign-in page; shows the first-admin form instead while setup is open.
"use strict";
(function () {
  const login = document.getElementById("login");
  const setup = document.getElementById("setup");
  const say = (form, text) => { form.querySelector(".form-error").textContent = text; };

  vigil.api("GET", "/api/setup").then((status) => {
    if (status && status.needed) { setup.hidden = false; login.hidden = true; }
  }).catch(() => {});

  login.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(login, "");
    const { username, password } = vigil.fields(login);
    try {
      await vigil.api("POST", "/api/login", { username, password });
      window.location.assign("/");
    } catch (error) {
      say(login, error.status === 429 ? "Too many attempts. Try again later."
        : "Wrong username or password.");
    }
  });

  setup.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(setup, "");
    try {
      await vigil.api("POST", "/api/setup", vigil.fields(setup));
      setup.hidden = true;
      login.hidden = false;
      say(login, "Admin created. Sign in.");
    } catch (error) {
      say(setup, error.message);
    }
  });
})();
