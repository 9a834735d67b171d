// The upload page: ask for an upload target, send the file straight to storage with a
// progress bar (htmx cannot: it sends only to its own origin), then record completion
// and open the live status page. No dependencies; every failure is shown as a sentence.
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var button = document.getElementById("upload-button");
  var progress = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var percent = document.getElementById("upload-percent");
  var message = document.getElementById("upload-message");
  // Which input shows the API's message for each of its fields.
  var FIELD_INPUT = { email: "email", filename: "file", contentType: "file", size: "file" };

  function showError(name, text) {
    var input = form.elements[name];
    var error = document.getElementById(name + "-error");
    input.setAttribute("aria-invalid", "true");
    error.textContent = text;
    error.hidden = false;
  }

  function clearErrors() {
    ["email", "file"].forEach(function (name) {
      form.elements[name].removeAttribute("aria-invalid");
      document.getElementById(name + "-error").hidden = true;
    });
    message.textContent = "";
    message.classList.remove("upload-message--error");
  }

  function fail(problem) {
    var errors = (problem && problem.errors) || {};
    var first = null;
    Object.keys(errors).forEach(function (field) {
      var name = FIELD_INPUT[field] || "file";
      showError(name, errors[field]);
      first = first || name;
    });
    message.textContent = problem instanceof Error || !problem || !problem.message
      ? "We could not reach the server. Check your connection and try again."
      : problem.message;
    message.classList.add("upload-message--error");
    progress.hidden = true;
    button.disabled = false;
    if (first) {
      form.elements[first].focus();
    }
  }

  function postJSON(url, body, extraHeaders) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    Object.assign(headers, extraHeaders || {});
    return fetch(url, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!answer.success) {
          throw answer;
        }
        return answer.data;
      });
    });
  }

  function setProgress(fraction) {
    var value = Math.round(fraction * 100);
    bar.value = value;
    percent.textContent = value + "%";
  }

  function sendFile(target, file) {
    return new Promise(function (resolve, reject) {
      var body = new FormData();
      Object.keys(target.fields).forEach(function (name) {
        body.append(name, target.fields[name]);
      });
      body.append("file", file);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", target.url);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          setProgress(event.loaded / event.total);
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          setProgress(1);
          resolve(target);
          return;
        }
        var refusal = null;
        try {
          refusal = JSON.parse(xhr.responseText);
        } catch (ignored) {
          refusal = null; // S3 answers in XML: give our own sentence instead
        }
        reject({
          message: (refusal && refusal.message) ||
            "Storage refused the file (HTTP " + xhr.status + "). Please start the upload again.",
        });
      });
      xhr.addEventListener("error", function () {
        reject({ message: "The upload was interrupted. Check your connection and try again." });
      });
      xhr.send(body);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var file = form.elements.file.files[0];
    var email = form.elements.email.value.trim();
    if (!email) {
      showError("email", "Enter your work e-mail address.");
    }
    if (!file) {
      showError("file", "Choose a file to upload.");
    }
    if (!email || !file) {
      form.elements[!email ? "email" : "file"].focus();
      return;
    }
    button.disabled = true;
    setProgress(0);
    progress.hidden = false;
    message.textContent = "Uploading " + file.name + "…";
    var createUrl = form.getAttribute("data-create-url");
    postJSON(createUrl, {
      email: email,
      filename: file.name,
      contentType: file.type || "application/octet-stream",
      size: file.size,
    })
      .then(function (target) {
        return sendFile(target, file);
      })
      .then(function (target) {
        message.textContent = "Uploaded. Starting the analysis…";
        // The upload's token rides in a header, never the query string (access logs).
        var token = new URL(target.status_url, window.location.href).searchParams.get("token");
        return postJSON(createUrl + "/" + target.upload_id + "/complete", {}, {
          "X-Upload-Token": token,
        }).then(function () {
          return target;
        });
      })
      .then(function (target) {
        window.location.assign(target.status_page);
      })
      .catch(fail);
  });
})();
