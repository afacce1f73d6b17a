/* Ledgerdoc web UI: resumable multi-file uploads with tus-js-client over /api/v1/tus/.
 *
 * Each file gets a progress bar, its speed and remaining time, Pause/Resume and Cancel. tus-js-client
 * keeps a fingerprint of every unfinished upload in localStorage, so a reload or a dropped network
 * resumes where the server stopped (choose the same file again after a reload). When the upload is
 * finished the page asks the server to place it (a folder's file, or an order's attachment) with the
 * file's SHA-256 computed here, and shows the new entry without a reload.
 *
 * The tus endpoint is called with a short-lived bearer token of this page's login session, fetched
 * with the session cookie and CSRF token from /ui/upload-token and renewed before it expires.
 *
 * When the storage is S3 (data-direct-endpoint), files go straight to S3 instead: Uppy with
 * @uppy/aws-s3 (vendored, loaded on demand) asks the service's Companion-compatible endpoints
 * (/api/v1/s3/multipart, same upload token) for presigned part URLs and PUTs the parts to S3 itself;
 * the file's SHA-256, computed here first, is declared when the upload is created and checked by
 * the server. The upload's id and key are kept in localStorage, so choosing the same file again
 * after a reload lists the parts S3 already holds and sends only the rest. A file whose SHA-256
 * cannot be computed here (too large, no WebCrypto) goes through tus as before.
 */
(function () {
  "use strict";

  var HASH_LIMIT = 512 * 1024 * 1024; // larger files are checked by size only (in-memory digest)
  var csrf = document.body.getAttribute("data-csrf");
  window.ledgerdocUploads = window.ledgerdocUploads || { events: [], resumedAt: {} };

  function formatBytes(bytes) {
    if (!isFinite(bytes)) return "";
    var units = ["B", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i === 0 ? bytes : bytes.toFixed(1)) + " " + units[i];
  }

  function formatSeconds(seconds) {
    if (!isFinite(seconds) || seconds < 0) return "";
    seconds = Math.round(seconds);
    if (seconds < 60) return seconds + " s left";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + (seconds % 60) + " s left";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min left";
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function sha256Of(file) {
    if (!window.crypto || !window.crypto.subtle || file.size > HASH_LIMIT) return Promise.resolve("");
    return file.arrayBuffer()
      .then(function (buffer) { return window.crypto.subtle.digest("SHA-256", buffer); })
      .then(hex)
      .catch(function () { return ""; });
  }

  function problemDetail(text) {
    try { return JSON.parse(text).detail || ""; } catch (e) { return ""; }
  }

  function errorInWords(error) {
    var response = error && error.originalResponse;
    var status = response ? response.getStatus() : 0;
    var detail = response ? problemDetail(response.getBody()) : "";
    switch (status) {
      case 413: return "This file is too large for the server" + (detail ? ": " + detail : ".");
      case 460: return "The file was damaged on the way (checksum mismatch). Press Resume to send it again.";
      case 401:
      case 403: return "Your session has ended. Sign in again, then choose the same file to resume.";
      case 404:
      case 410: return "The server no longer has this upload (it expired or was cancelled). Choose the file again to start over.";
      case 0: return "The connection to the server was lost. Check your network, then press Resume.";
      default: return detail || "The server refused the upload (error " + status + ").";
    }
  }

  function Uploader(root) {
    this.root = root;
    this.endpoint = new URL(root.getAttribute("data-endpoint"), window.location.href).href;
    this.chunkSize = parseInt(root.getAttribute("data-chunk-size"), 10) || 4 * 1024 * 1024;
    this.placeUrl = root.getAttribute("data-place-url");
    this.tokenUrl = root.getAttribute("data-token-url");
    this.mode = root.getAttribute("data-mode");
    var direct = root.getAttribute("data-direct-endpoint");
    this.directEndpoint = direct ? new URL(direct, window.location.href).href.replace(/\/$/, "") : "";
    this.uppySrc = root.getAttribute("data-uppy-src");
    this.list = root.querySelector("[data-uploads]");
    this.token = null;
    this.tokenExpires = 0;
    this.bind();
    this.showInterrupted();
  }

  Uploader.prototype.bind = function () {
    var self = this;
    var input = this.root.querySelector("[data-upload-input]");
    input.addEventListener("change", function () {
      self.addFiles(input.files);
      input.value = "";
    });
    var zone = this.root.querySelector("[data-dropzone]");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files) self.addFiles(event.dataTransfer.files);
    });
  };

  Uploader.prototype.bearer = function () {
    var self = this;
    if (this.token && Date.now() < this.tokenExpires - 60000) return Promise.resolve(this.token);
    return fetch(this.tokenUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(response.status === 401
          ? "Your session has ended. Sign in again, then choose the same file to resume."
          : "The upload could not start (error " + response.status + ").");
      }
      return response.json();
    }).then(function (body) {
      self.token = body.token;
      self.tokenExpires = Date.parse(body.expires);
      return self.token;
    });
  };

  /* Unfinished uploads of this place that a reload interrupted (from tus-js-client's storage). */
  Uploader.prototype.showInterrupted = function () {
    var box = this.root.querySelector("[data-resumable]");
    var storage = window.tus && window.tus.defaultOptions && window.tus.defaultOptions.urlStorage;
    if (!box || !storage || !storage.findAllUploads) return;
    var place = this.placeUrl;
    storage.findAllUploads().then(function (uploads) {
      var mine = uploads.filter(function (u) { return u.metadata && u.metadata.place === place; });
      if (!mine.length) return;
      box.textContent = "";
      var title = document.createElement("p");
      title.textContent = "Interrupted uploads — choose the same file again to continue where it stopped:";
      box.appendChild(title);
      var list = document.createElement("ul");
      mine.forEach(function (u) {
        var item = document.createElement("li");
        item.textContent = u.metadata.filename + " (" + formatBytes(u.size) + ")";
        item.setAttribute("data-key", u.urlStorageKey);
        list.appendChild(item);
      });
      box.appendChild(list);
      box.hidden = false;
    }).catch(function () {});
  };

  Uploader.prototype.addFiles = function (files) {
    for (var i = 0; i < files.length; i += 1) this.start(files[i]);
  };

  Uploader.prototype.item = function (file) {
    var li = document.createElement("li");
    li.className = "upload";
    li.setAttribute("data-state", "starting");
    li.setAttribute("data-file", file.name);
    var id = "upload-" + Math.random().toString(36).slice(2);
    li.innerHTML =
      '<div class="line"><span class="fname"></span> <span class="fsize"></span> <span class="state" data-state-text>Starting…</span></div>' +
      '<progress max="100" value="0" id="' + id + '"></progress>' +
      '<div class="stats"><span data-percent>0%</span> <span data-speed></span> <span data-eta></span></div>' +
      '<div class="buttons"><button type="button" data-pause>Pause</button> <button type="button" data-cancel>Cancel</button></div>' +
      '<p class="error" role="alert" hidden></p>';
    li.querySelector(".fname").textContent = file.name;
    li.querySelector(".fsize").textContent = "(" + formatBytes(file.size) + ")";
    li.querySelector("progress").setAttribute("aria-label", "Upload of " + file.name);
    this.list.insertBefore(li, this.list.firstChild);
    return li;
  };

  Uploader.prototype.start = function (file) {
    var self = this;
    if (!this.directEndpoint || !file.size) return this.startTus(file, null);
    var li = this.item(file);
    li.querySelector("[data-state-text]").textContent = "Checking the file…";
    sha256Of(file).then(function (sha) {
      if (sha) self.startDirect(file, li, sha);
      else self.startTus(file, li);
    });
  };

  Uploader.prototype.startTus = function (file, li) {
    var self = this;
    li = li || this.item(file);
    var stateText = li.querySelector("[data-state-text]");
    var bar = li.querySelector("progress");
    var pauseButton = li.querySelector("[data-pause]");
    var cancelButton = li.querySelector("[data-cancel]");
    var errorBox = li.querySelector(".error");
    var samples = [];
    var paused = false;
    var checksum = sha256Of(file);

    function setState(state, text) {
      li.setAttribute("data-state", state);
      stateText.textContent = text;
    }
    function showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = false;
    }
    function emit(kind, extra) {
      var detail = Object.assign({ kind: kind, name: file.name, size: file.size, time: Date.now() }, extra || {});
      window.ledgerdocUploads.events.push(detail);
      document.dispatchEvent(new CustomEvent("ledgerdoc:upload", { detail: detail }));
    }

    var upload = new window.tus.Upload(file, {
      endpoint: this.endpoint,
      chunkSize: this.chunkSize,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream", place: this.placeUrl },
      onBeforeRequest: function (req) {
        return self.bearer().then(function (token) {
          req.setHeader("Authorization", "Bearer " + token);
        });
      },
      onAfterResponse: function (req, res) {
        if (req.getMethod() === "HEAD" && res.getStatus() === 200) {
          var offset = parseInt(res.getHeader("Upload-Offset"), 10) || 0;
          window.ledgerdocUploads.resumedAt[file.name] = offset;
          li.setAttribute("data-resumed-at", String(offset));
          emit("resumed", { offset: offset });
        }
      },
      onProgress: function (sent, total) {
        var now = Date.now();
        samples.push([now, sent]);
        while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
        var first = samples[0];
        var speed = now > first[0] ? (sent - first[1]) / ((now - first[0]) / 1000) : 0;
        var percent = total ? Math.floor((sent / total) * 100) : 0;
        bar.value = percent;
        li.setAttribute("data-offset", String(sent));
        li.querySelector("[data-percent]").textContent = percent + "%";
        li.querySelector("[data-speed]").textContent = speed > 0 ? formatBytes(speed) + "/s" : "";
        li.querySelector("[data-eta]").textContent = speed > 0 ? formatSeconds((total - sent) / speed) : "";
        if (!paused) setState("uploading", "Uploading");
        emit("progress", { sent: sent, total: total });
      },
      onError: function (error) {
        var status = error && error.originalResponse ? error.originalResponse.getStatus() : 0;
        if (status === 0 && navigator.onLine === false) {
          // The network is gone: go on by itself when it is back.
          setState("offline", "Waiting for the network…");
          li.querySelector("[data-speed]").textContent = "";
          li.querySelector("[data-eta]").textContent = "";
          showError("The connection was lost. The upload goes on by itself when the network is back.");
          emit("offline", {});
          window.addEventListener("online", function () {
            if (li.getAttribute("data-state") !== "offline") return;
            errorBox.hidden = true;
            samples = [];
            setState("uploading", "Resuming…");
            upload.start();
          }, { once: true });
          return;
        }
        setState("error", "Stopped");
        pauseButton.textContent = "Resume";
        pauseButton.hidden = status === 413; // sending it again cannot help
        paused = true;
        showError(error && error.originalResponse ? errorInWords(error) : (error && error.message && error.message.indexOf("session") >= 0 ? error.message : errorInWords(error)));
        emit("error", { message: errorBox.textContent });
      },
      onSuccess: function () {
        pauseButton.hidden = true;
        cancelButton.hidden = true;
        bar.value = 100;
        li.querySelector("[data-eta]").textContent = "";
        setState("saving", "Checking and saving…");
        var uploadId = upload.url.split("/").pop();
        checksum.then(function (sha) { return self.place(uploadId, sha, 0); }).then(function (body) {
          setState("done", "Done");
          li.querySelector("[data-speed]").textContent = "";
          emit("done", { id: body.id || null });
        }).catch(function (error) {
          setState("error", "Not saved");
          showError(error.message);
          emit("error", { message: error.message });
        });
      },
    });

    pauseButton.addEventListener("click", function () {
      if (paused) {
        paused = false;
        errorBox.hidden = true;
        pauseButton.textContent = "Pause";
        setState("uploading", "Resuming…");
        samples = [];
        upload.start();
      } else {
        paused = true;
        pauseButton.textContent = "Resume";
        setState("paused", "Paused");
        upload.abort();
      }
    });
    cancelButton.addEventListener("click", function () {
      paused = true;
      upload.abort(true).catch(function () {});
      setState("cancelled", "Cancelled");
      pauseButton.hidden = true;
      cancelButton.hidden = true;
    });

    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        setState("uploading", "Resuming…");
        self.resumed(previous[0].urlStorageKey);
      }
      upload.start();
    });
  };

  /* --- Direct to S3 (Uppy + @uppy/aws-s3 against /api/v1/s3/multipart) ------------------------- */

  Uploader.prototype.loadUppy = function () {
    var src = this.uppySrc;
    if (window.Uppy && window.Uppy.AwsS3) return Promise.resolve(window.Uppy);
    if (!this.uppyLoading) {
      this.uppyLoading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(window.Uppy); };
        script.onerror = function () { reject(new Error("The uploader could not be loaded.")); };
        document.head.appendChild(script);
      });
    }
    return this.uppyLoading;
  };

  /* One Uppy for the page; its requests to the service carry the upload token, renewed in time. */
  Uploader.prototype.uppy = function (token) {
    var self = this;
    if (!this.uppyInstance) {
      var uppy = new window.Uppy.Uppy({ autoProceed: false, allowMultipleUploadBatches: true });
      uppy.use(window.Uppy.AwsS3, {
        endpoint: this.directEndpoint,
        headers: { Authorization: "Bearer " + token },
        shouldUseMultipart: true,
        retryDelays: [0, 1000, 3000, 5000, 10000],
        limit: 4,
      });
      this.uppyInstance = uppy;
      this.directHandlers = {};
      var route = function (name) {
        uppy.on(name, function (file) {
          var handlers = file && self.directHandlers[file.id];
          if (handlers && handlers[name]) handlers[name].apply(null, arguments);
        });
      };
      ["upload-progress", "upload-success", "upload-error", "s3-multipart:part-uploaded"].forEach(route);
      setInterval(function () {
        if (!Object.keys(self.directHandlers).length) return;
        self.bearer().then(function (fresh) {
          uppy.getPlugin("AwsS3").setOptions({ headers: { Authorization: "Bearer " + fresh } });
        }).catch(function () {});
      }, 60000);
    } else {
      this.uppyInstance.getPlugin("AwsS3").setOptions({ headers: { Authorization: "Bearer " + token } });
    }
    return this.uppyInstance;
  };

  function resumeKey(file, place) {
    return "ledgerdoc-s3::" + place + "::" + file.name + "::" + file.size + "::" + file.lastModified;
  }

  Uploader.prototype.startDirect = function (file, li, sha) {
    var self = this;
    var stateText = li.querySelector("[data-state-text]");
    var bar = li.querySelector("progress");
    var pauseButton = li.querySelector("[data-pause]");
    var cancelButton = li.querySelector("[data-cancel]");
    var errorBox = li.querySelector(".error");
    var storeKey = resumeKey(file, this.placeUrl);
    var samples = [];
    var paused = false;
    var uppy = null;
    var fileId = null;
    li.setAttribute("data-direct", "s3");

    function setState(state, text) { li.setAttribute("data-state", state); stateText.textContent = text; }
    function showError(message) { errorBox.textContent = message; errorBox.hidden = false; }
    function emit(kind, extra) {
      var detail = Object.assign({ kind: kind, name: file.name, size: file.size, time: Date.now(), direct: true }, extra || {});
      window.ledgerdocUploads.events.push(detail);
      document.dispatchEvent(new CustomEvent("ledgerdoc:upload", { detail: detail }));
    }
    function forget() {
      try { window.localStorage.removeItem(storeKey); } catch (e) { /* private mode */ }
      if (fileId) delete self.directHandlers[fileId];
    }
    function fail(message) {
      setState("error", "Stopped");
      pauseButton.hidden = true;
      showError(message);
      emit("error", { message: message });
    }

    Promise.all([this.bearer(), this.loadUppy()]).then(function (results) {
      uppy = self.uppy(results[0]);
      fileId = uppy.addFile({
        name: file.name, type: file.type || "application/octet-stream", data: file, source: "ledgerdoc",
        meta: { sha256: sha, size: file.size },
      });
      var saved = null;
      try { saved = JSON.parse(window.localStorage.getItem(storeKey) || "null"); } catch (e) { saved = null; }
      if (saved && saved.uploadId && saved.key) {
        uppy.setFileState(fileId, { s3Multipart: { uploadId: saved.uploadId, key: saved.key } });
        setState("uploading", "Resuming…");
        emit("resumed", { uploadId: saved.uploadId });
      }
      self.directHandlers[fileId] = {
        "s3-multipart:part-uploaded": function (current) {
          var state = current && current.s3Multipart;
          if (state && state.uploadId) {
            try {
              window.localStorage.setItem(storeKey, JSON.stringify({ uploadId: state.uploadId, key: state.key }));
            } catch (e) { /* private mode: no resume after a reload */ }
          }
        },
        "upload-progress": function (current, progress) {
          var sent = progress.bytesUploaded, total = progress.bytesTotal || file.size;
          var now = Date.now();
          samples.push([now, sent]);
          while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
          var speed = now > samples[0][0] ? (sent - samples[0][1]) / ((now - samples[0][0]) / 1000) : 0;
          var percent = total ? Math.floor((sent / total) * 100) : 0;
          bar.value = percent;
          li.setAttribute("data-offset", String(sent));
          li.querySelector("[data-percent]").textContent = percent + "%";
          li.querySelector("[data-speed]").textContent = speed > 0 ? formatBytes(speed) + "/s" : "";
          li.querySelector("[data-eta]").textContent = speed > 0 ? formatSeconds((total - sent) / speed) : "";
          if (!paused) setState("uploading", "Uploading");
          emit("progress", { sent: sent, total: total });
        },
        "upload-success": function (current, response) {
          var body = (response && response.body) || {};
          var uploadId = body.uploadId || (current.s3Multipart && current.s3Multipart.uploadId);
          forget();
          uppy.removeFile(fileId);
          pauseButton.hidden = true;
          cancelButton.hidden = true;
          bar.value = 100;
          li.querySelector("[data-eta]").textContent = "";
          setState("saving", "Checking and saving…");
          self.place(uploadId, sha, 0).then(function (placed) {
            setState("done", "Done");
            li.querySelector("[data-speed]").textContent = "";
            emit("done", { id: placed.id || null, uploadId: uploadId });
          }).catch(function (error) {
            setState("error", "Not saved");
            showError(error.message);
            emit("error", { message: error.message });
          });
        },
        "upload-error": function (current, error, response) {
          var status = (response && response.status) || (error && error.source && error.source.status) || 0;
          if ((status === 404 || status === 410) && saved) {
            // The upload kept for resuming is gone (expired, cancelled): start over, once.
            saved = null;
            forget();
            uppy.removeFile(fileId);
            self.startDirect(file, li, sha);
            return;
          }
          paused = true;
          setState("error", "Stopped");
          pauseButton.textContent = "Resume";
          pauseButton.hidden = status === 413;
          var detail = response && response.body && response.body.detail;
          showError(status === 413 ? "This file is too large for the server" + (detail ? ": " + detail : ".")
            : status === 401 || status === 403 ? "Your session has ended. Sign in again, then choose the same file to resume."
            : detail || (error && error.message) || "The upload stopped.");
          emit("error", { message: errorBox.textContent, status: status });
        },
      };
      return uppy.upload();
    }).catch(function (error) { fail(error && error.message ? error.message : "The upload could not start."); });

    pauseButton.addEventListener("click", function () {
      if (!uppy || !fileId || !uppy.getFile(fileId)) return;
      if (li.getAttribute("data-state") === "error") {
        paused = false;
        errorBox.hidden = true;
        pauseButton.textContent = "Pause";
        setState("uploading", "Resuming…");
        self.bearer().then(function (token) { self.uppy(token); uppy.retryUpload(fileId); });
        return;
      }
      paused = !paused;
      pauseButton.textContent = paused ? "Resume" : "Pause";
      setState(paused ? "paused" : "uploading", paused ? "Paused" : "Resuming…");
      uppy.pauseResume(fileId);
    });
    cancelButton.addEventListener("click", function () {
      paused = true;
      if (uppy && fileId && uppy.getFile(fileId)) uppy.removeFile(fileId);  // aborts: DELETE /api/v1/s3/multipart/{id}
      forget();
      setState("cancelled", "Cancelled");
      pauseButton.hidden = true;
      cancelButton.hidden = true;
    });
  };

  /* An interrupted upload is going on again: it leaves the list of interrupted ones. */
  Uploader.prototype.resumed = function (key) {
    var box = this.root.querySelector("[data-resumable]");
    if (!box) return;
    box.querySelectorAll("li").forEach(function (item) {
      if (item.getAttribute("data-key") === key) item.remove();
    });
    if (!box.querySelector("li")) box.hidden = true;
  };

  /* Hand the finished upload to the page's place; retried while the server is still finishing it. */
  Uploader.prototype.place = function (uploadId, sha256, attempt) {
    var self = this;
    var body = new URLSearchParams({ upload: uploadId, sha256: sha256 || "" });
    return fetch(this.placeUrl, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
    }).then(function (response) {
      return response.text().then(function (text) {
        if (response.status === 409 && attempt < 20) {
          return new Promise(function (resolve) { setTimeout(resolve, 1000); })
            .then(function () { return self.place(uploadId, sha256, attempt + 1); });
        }
        if (!response.ok) {
          throw new Error(problemDetail(text) || "The file could not be saved (error " + response.status + ").");
        }
        var result = JSON.parse(text);
        self.showPlaced(result);
        return result;
      });
    });
  };

  Uploader.prototype.showPlaced = function (result) {
    if (this.mode === "attachments") {
      var panel = document.querySelector("[data-attachments]");
      if (panel && result.list) panel.innerHTML = result.list;
      return;
    }
    var rows = document.querySelector("[data-rows]");
    if (!rows || !result.row) return;
    var empty = rows.querySelector("tr.empty");
    if (empty) empty.remove();
    var holder = document.createElement("tbody");
    holder.innerHTML = result.row;
    var row = holder.firstElementChild;
    var firstFile = Array.prototype.find.call(rows.children, function (tr) {
      return !tr.querySelector(".icon.folder");
    });
    rows.insertBefore(row, firstFile || null);
    document.dispatchEvent(new CustomEvent("ledgerdoc:row-added", { detail: { row: row } }));
  };

  document.querySelectorAll("[data-uploader]").forEach(function (root) { new Uploader(root); });
})();
