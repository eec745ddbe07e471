import Feedback
import Foundation
import Timestamps

/// The review page: rendered here whole from the backend (no build tool chain, no client-side templates), with a
/// small script for the feedback buttons, the live view and the figures that change while it is open.
enum ReviewPage {
    /// Scripts and styles from this server only (never inline), images and clips from it, nothing framed.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func html(_ backend: some ReviewBackend) async -> String {
        var sections = ""
        for p in await backend.overview() {
            let episodes: String
            do {
                let list = try await backend.episodes(pipeline: p.name, limit: ReviewServer.defaultLimit)
                episodes = list.isEmpty ? #"<p class="empty">No episodes yet.</p>"# : list.map(card).joined()
            } catch {
                episodes = #"<p class="empty">\#(escape("\(error)"))</p>"#
            }
            sections += section(p, episodes: episodes)
        }
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>anomalyd review</title>
        <link rel="stylesheet" href="/review.css"><script src="/review.js" defer></script>
        </head><body>
        <header><h1>anomalyd</h1><p>What was flagged, newest first. <em>Not an anomaly</em> teaches the model at once.</p></header>
        <main>\(sections.isEmpty ? "<p>No pipelines.</p>" : sections)</main>
        </body></html>
        """
    }

    static func section(_ p: PipelineOverview, episodes: String) -> String {
        let name = escape(p.name)
        let path = escape(percent(p.name))
        return """
        <section class="pipeline" data-pipeline="\(name)">
        <h2>\(name) <span class="state" data-field="state">\(escape(p.state))</span></h2>
        <dl class="overview">
        <div><dt>model</dt><dd data-field="model">\(escape(p.model ?? "none yet"))</dd></div>
        <div><dt>age</dt><dd data-field="age">\(p.modelAgeSeconds.map(duration) ?? "-")</dd></div>
        <div><dt>frames/s</dt><dd data-field="fps">\(String(format: "%.1f", p.framesPerSecond))</dd></div>
        <div><dt>false alarms/h</dt><dd><span data-field="measured">\(p.measuredPerHour.map { String(format: "%.1f", $0) } ?? "-")</span> of \(String(format: "%g", p.falseAlarmsPerHour)) allowed</dd></div>
        <div><dt>dismissed kinds</dt><dd><span data-field="suppressions">\(p.suppressions)</span> (<span data-field="suppressed">\(p.suppressedFrames)</span> frames held back)</dd></div>
        </dl>
        <figure class="live"><img class="live" data-src="/api/pipelines/\(path)/live.jpg" alt="live view of \(name)"><figcaption>live, with the anomaly map</figcaption></figure>
        <p class="fresh" hidden><a href="/">New episodes: show them</a></p>
        <div class="episodes">\(episodes)</div>
        </section>
        """
    }

    static func card(_ e: EpisodeRecord) -> String {
        let pipeline = escape(percent(e.pipeline))
        let snapshot = e.snapshots.last.map {
            #"<img class="snapshot" src="/files/\#(pipeline)/\#(escape(path($0)))" alt="snapshot of episode \#(escape(e.id))">"#
        } ?? #"<p class="empty">no snapshot</p>"#
        let clip = e.clip.map {
            #"<video class="clip" src="/files/\#(pipeline)/\#(escape(path($0)))" controls preload="metadata"></video>"#
        } ?? ""
        let start = Timestamp.parse(e.startTime)
        let length = e.endTime.flatMap(Timestamp.parse).flatMap { end in start.map { duration(end.timeIntervalSince($0)) } } ?? "open"
        let box = e.region.map { " at " + $0.bbox.map(String.init).joined(separator: ",") } ?? ""
        let verdict = e.feedback?.verdict.rawValue ?? ""
        let retired = e.feedback?.retiredBy.map { " (absorbed by model \(escape($0)))" } ?? ""
        return """
        <article class="episode" data-id="\(escape(e.id))" data-pipeline="\(escape(e.pipeline))" data-verdict="\(verdict)">
        \(snapshot)\(clip)
        <p class="facts"><time datetime="\(escape(e.startTime))">\(escape(e.startTime))</time>, \(length), peak \
        <b>\(String(format: "%.2f", e.peakScore))</b> against \(String(format: "%.2f", e.threshold))\(escape(box)), \(e.frames) frames, model \(escape(e.model))</p>
        <p class="judged">Verdict: <span class="verdict">\(verdict)</span>\(retired)</p>
        <p class="buttons"><button class="dismiss" data-verdict="normal">Not an anomaly</button>
        <button class="confirm" data-verdict="anomaly">Confirm anomaly</button><button class="undo">Undo</button></p>
        <p class="error" role="alert"></p>
        <p class="id">\(escape(e.id))</p>
        </article>
        """
    }

    /// `snapshots/x.jpg` as the route `/files/P/snapshots/x.jpg` takes it, each part percent-encoded.
    static func path(_ relative: String) -> String {
        relative.split(separator: "/").map { percent(String($0)) }.joined(separator: "/")
    }

    static func percent(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? ""
    }

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        if seconds < 3600 { return String(format: "%.0f min", seconds / 60) }
        if seconds < 86400 { return String(format: "%.1f h", seconds / 3600) }
        return String(format: "%.1f d", seconds / 86400)
    }

    static let style = """
    :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
    body { margin: 0 auto; padding: 0 12px 24px; max-width: 1200px; }
    header p { margin-top: 0; color: GrayText; }
    h2 { margin: 16px 0 4px; } .state { font-size: 0.6em; padding: 2px 8px; border-radius: 8px; background: #8884; }
    dl.overview { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 4px 0 12px; }
    dl.overview div { display: flex; gap: 6px; } dt { color: GrayText; } dd { margin: 0; font-weight: 600; }
    figure.live { margin: 0 0 12px; max-width: 448px; } figure.live img { width: 100%; display: block; }
    figure.live img.missing { display: none; }
    .episodes { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
    article.episode { border: 1px solid #8886; border-radius: 8px; padding: 8px; min-width: 0; }
    article.episode img, article.episode video { width: 100%; display: block; border-radius: 4px; }
    article.episode video { margin-top: 6px; }
    article.episode p { margin: 6px 0; overflow-wrap: anywhere; } .id { font-size: 0.75em; color: GrayText; }
    article.episode[data-verdict="normal"] { border-color: #2a8; } article.episode[data-verdict="anomaly"] { border-color: #d33; }
    .verdict { font-weight: 700; } .error { color: #d33; } .error:empty { display: none; }
    button { font: inherit; padding: 8px 10px; margin: 0 6px 6px 0; border-radius: 6px; border: 1px solid #8888; cursor: pointer; }
    button.dismiss { background: #2a8; color: white; } button.confirm { background: #d33; color: white; }
    @media (max-width: 480px) { .episodes { grid-template-columns: 1fr; } }
    @media (min-width: 900px) {
      section.pipeline { display: grid; grid-template-columns: minmax(280px, 400px) 1fr; gap: 0 16px; align-items: start; }
      section.pipeline > h2, section.pipeline > dl, section.pipeline > .fresh { grid-column: 1 / -1; }
    }
    """

    static let script = #"""
    "use strict";
    // Feedback: the card shows the verdict the daemon stored, never one assumed.
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("article.episode button");
      if (!button) return;
      const card = button.closest("article.episode");
      const url = "/api/pipelines/" + encodeURIComponent(card.dataset.pipeline) + "/episodes/" +
        encodeURIComponent(card.dataset.id) + "/feedback";
      const undo = button.classList.contains("undo");
      const error = card.querySelector(".error");
      button.disabled = true;
      try {
        const response = await fetch(url, undo
          ? {method: "DELETE"}
          : {method: "POST", headers: {"Content-Type": "application/json"},
             body: JSON.stringify({verdict: button.dataset.verdict})});
        const body = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(body.error || response.statusText);
        const verdict = undo ? "" : body.verdict;
        card.dataset.verdict = verdict;
        card.querySelector(".verdict").textContent = verdict;
        error.textContent = "";
      } catch (e) {
        error.textContent = e.message;
      } finally {
        button.disabled = false;
      }
    });

    // The live view: the next picture a second after the last one arrived (or failed: none decided yet).
    for (const img of document.querySelectorAll("img.live")) {
      const next = (delay) => setTimeout(() => { img.src = img.dataset.src + "?t=" + Date.now(); }, delay);
      img.addEventListener("load", () => { img.classList.remove("missing"); next(1000); });
      img.addEventListener("error", () => { img.classList.add("missing"); next(3000); });
      next(0);
    }

    // The figures of each pipeline, and a link when episodes newer than the page's have opened.
    async function refresh() {
      try {
        const pipelines = await (await fetch("/api/pipelines")).json();
        for (const p of pipelines) {
          const section = document.querySelector('section.pipeline[data-pipeline="' + CSS.escape(p.name) + '"]');
          if (!section) continue;
          const set = (field, text) => { const el = section.querySelector('[data-field="' + field + '"]'); if (el) el.textContent = text; };
          set("state", p.state);
          set("fps", p.frames_per_s.toFixed(1));
          if (p.measured_per_hour != null) set("measured", p.measured_per_hour.toFixed(1));
          set("suppressions", p.suppressions);
          set("suppressed", p.suppressed_frames);
          const newest = await (await fetch("/api/pipelines/" + encodeURIComponent(p.name) + "/episodes?limit=1")).json();
          const first = section.querySelector("article.episode");
          if (Array.isArray(newest) && newest.length && (!first || first.dataset.id !== newest[0].id)) {
            section.querySelector(".fresh").hidden = false;
          }
        }
      } catch (e) { /* the daemon restarting: try again at the next tick */ }
    }
    setTimeout(refresh, 1000);
    setInterval(refresh, 5000);
    """#
}
