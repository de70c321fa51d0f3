/* The guided filing form: show what the chosen kind needs for each record, and refuse
 * (with the reason) before anything is filed. The server checks the same again. */
(function () {
  "use strict";
  var form = document.getElementById("filing-form");
  if (!form) { return; }
  document.documentElement.classList.add("js");
  var texts = JSON.parse(document.getElementById("filing-texts").textContent);
  var box = document.getElementById("filing-refusal");
  var submit = document.getElementById("filing-submit");
  var choices = Array.prototype.slice.call(form.querySelectorAll(".record-choice"));

  // The grounds: a count of characters under the box, and a clear word when the text is
  // longer than what fits (the box has no maxlength, which would cut a paste silently).
  var grounds = document.getElementById("id_grounds");
  if (grounds && grounds.getAttribute("data-max-length")) {
    var max = parseInt(grounds.getAttribute("data-max-length"), 10);
    var counter = document.createElement("p");
    counter.id = "id_grounds_counter";
    counter.className = "help counter";
    var warning = document.createElement("p");
    warning.id = "id_grounds_over";
    warning.className = "error";
    warning.setAttribute("role", "alert");
    warning.hidden = true;
    grounds.parentNode.insertBefore(warning, grounds.nextSibling);
    grounds.parentNode.insertBefore(counter, grounds.nextSibling);
    var described = grounds.getAttribute("aria-describedby");
    grounds.setAttribute("aria-describedby", (described ? described + " " : "") + "id_grounds_counter id_grounds_over");
    var fill = function (text, count) {
      return text.replace("{count}", count).replace("{max}", max);
    };
    // The server's verdict on the box (a required field left empty) stands until the
    // person types; the count only adds its own "too long".
    var serverInvalid = grounds.getAttribute("aria-invalid") === "true";
    var countGrounds = function (event) {
      if (event) {
        serverInvalid = false;
      }
      var count = Array.from(grounds.value).length;  // characters, as the server counts
      var over = count > max;
      counter.textContent = fill(texts.count, count);
      if (over === warning.hidden) {  // announced once, when the text crosses the limit
        warning.textContent = over ? fill(texts.over, count) : "";
        warning.hidden = !over;
      }
      grounds.setAttribute("aria-invalid", over || serverInvalid ? "true" : "false");
    };
    grounds.addEventListener("input", countGrounds);
    countGrounds();
  }

  function kind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "";
  }

  function update() {
    var current = kind();
    var reasons = [];
    var agencies = {};
    choices.forEach(function (item) {
      var checkbox = item.querySelector("input[name=records]");
      item.querySelectorAll(".for-kind").forEach(function (part) {
        part.hidden = current !== "" && part.getAttribute("data-kind") !== current;
      });
      var refusal = current ? item.getAttribute("data-refusal-" + current) : "";
      item.classList.toggle("is-selected", checkbox.checked);
      item.classList.toggle("is-refused", checkbox.checked && !!refusal);
      if (checkbox.checked) {
        agencies[item.getAttribute("data-agency")] = true;
        if (refusal) { reasons.push(refusal); }
      }
    });
    if (Object.keys(agencies).length > 1) { reasons.push(texts.agencies); }
    box.textContent = "";
    if (reasons.length) {
      var lead = document.createElement("p");
      lead.textContent = texts.refused;
      var list = document.createElement("ul");
      reasons.forEach(function (reason) {
        var li = document.createElement("li");
        li.textContent = reason;
        list.appendChild(li);
      });
      box.appendChild(lead);
      box.appendChild(list);
    }
    box.hidden = reasons.length === 0;
    submit.disabled = reasons.length > 0;
    submit.setAttribute("aria-disabled", reasons.length > 0 ? "true" : "false");
  }

  form.addEventListener("change", update);
  form.addEventListener("submit", function (event) {
    if (submit.disabled) { event.preventDefault(); return; }
    // A second click while the first is on its way files nothing more (the form token
    // makes the server return the same case anyway).
    window.setTimeout(function () { submit.disabled = true; }, 0);
  });
  update();
})();
