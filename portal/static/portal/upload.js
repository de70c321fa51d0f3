/* Several evidence files at once, each posted on its own with its upload progress.
 * Without this script the form posts every file in one request and the page lists
 * the results; with it, each file's result (accepted with its SHA-256, or refused
 * with the reason) appears as soon as the server has checked it. */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var texts = JSON.parse(document.getElementById("upload-texts").textContent);
  var input = document.getElementById("id_files");
  var total = document.getElementById("upload-total");
  var progressBox = document.getElementById("upload-progress");
  var results = document.getElementById("upload-results");
  var reload = document.getElementById("upload-reload");
  var button = document.getElementById("upload-submit");
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function line(name) {
    var li = document.createElement("li");
    var label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    var state = document.createElement("span");
    state.className = "block";
    state.textContent = texts.uploading;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", name);
    li.appendChild(label);
    li.appendChild(bar);
    li.appendChild(state);
    results.appendChild(li);
    return { li: li, bar: bar, state: state };
  }

  function finish(row, ok, message, sha) {
    row.li.className = ok ? "ok" : "refused";
    row.bar.remove();
    // "Accepted: …" in the page's language ("已接收：…" in Chinese).
    row.state.textContent = texts.outcome
      .replace("{state}", ok ? texts.accepted : texts.refused)
      .replace("{message}", function () { return message; });
    if (sha) {
      var hash = document.createElement("span");
      hash.className = "block hash";
      hash.textContent = "SHA-256 " + sha;
      row.li.appendChild(hash);
    }
  }

  function send(files, index, done, accepted) {
    if (index >= files.length) { return done(accepted); }
    var file = files[index];
    var row = line(file.name);
    if (texts.max_bytes && file.size > texts.max_bytes) {
      // The server refuses it too (413), but only once the whole file has been sent.
      finish(row, false, texts.too_big, "");
      total.value = Math.round(((index + 1) / files.length) * 100);
      return send(files, index + 1, done, accepted);
    }
    var data = new FormData();
    data.append("material", form.elements.material.value);
    data.append("record", form.elements.record ? form.elements.record.value : "");
    data.append("files", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (event) {
      if (!event.lengthComputable) { return; }
      var part = event.loaded / event.total;
      row.bar.value = Math.round(part * 100);
      total.value = Math.round(((index + part) / files.length) * 100);
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      var result = body && body.results && body.results[0];
      if (result) {
        finish(row, result.ok, result.message, result.ok ? result.sha256 : "");
        if (result.ok) { accepted += 1; }
      } else {
        finish(row, false, (body && body.message) || texts.failed, "");
      }
      total.value = Math.round(((index + 1) / files.length) * 100);
      send(files, index + 1, done, accepted);
    };
    xhr.onerror = function () {
      finish(row, false, texts.failed, "");
      send(files, index + 1, done, accepted);
    };
    xhr.send(data);
  }

  // The list of evidence is drawn by the server: show it again by loading the page anew
  // (a link to the same address with only "#evidence" added would just scroll).
  reload.querySelector("a").addEventListener("click", function (event) {
    event.preventDefault();
    window.location.hash = "evidence";
    window.location.reload();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call(input.files || []);
    results.textContent = "";
    if (!files.length) {
      var li = document.createElement("li");
      li.className = "refused";
      li.textContent = texts.choose;
      results.appendChild(li);
      input.focus();
      return;
    }
    button.disabled = true;
    progressBox.hidden = false;
    total.value = 0;
    send(files, 0, function (accepted) {
      button.disabled = false;
      input.value = "";
      if (accepted) { reload.hidden = false; }
    }, 0);
  });
})();
