using System.Globalization;
using System.Net;
using System.Text;
using Iwae.Experiments.Sweeps;
using Iwae.Experiments;

namespace Iwae.Cli.Report;

/// <summary>A figure of the report: a PNG file, embedded when the page is built.</summary>
/// <param name="Title">Heading above the figure.</param>
/// <param name="Caption">How to read it.</param>
/// <param name="PngPath">The PNG on disk.</param>
public sealed record ReportFigure(string Title, string Caption, string PngPath);

/// <summary>
/// report.html: one self-contained page (inline CSS, every image a data: URI, no script, no external reference)
/// with the comparison table, the settings and the figures; readable offline in any browser.
/// </summary>
public static class ReportHtml
{
    /// <summary>The page for one run folder.</summary>
    public static string Build(string title, RunResults results, IReadOnlyList<ReportFigure> figures)
    {
        var html = new StringBuilder();
        Head(html, title);
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"lead\">{E(results.Config.Architecture)} encoder (decoder mirrored), k = {results.Config.K}, " +
            $"{E(results.Config.Observation.ToString().ToLowerInvariant())} observations; test NLL estimated with k = {results.EvalK}.</p>\n");
        html.Append("<h2>Results</h2>\n");
        ComparisonTable(html, results);
        FigureList(html, figures);
        SettingsTable(html, results);
        Foot(html);
        return html.ToString();
    }

    /// <summary>
    /// The page of a sweep folder: Table 1's layout with Burda et al.'s figures beside ours (for that preset), the VAE and
    /// IWAE of each pair side by side (when the sweep pairs them), every run with its state and figures, and the
    /// figures; runs link to their own pages.
    /// </summary>
    public static string BuildSweep(string title, IReadOnlyList<SweepResultRow> rows, IReadOnlyList<Table1Row>? table1,
        IReadOnlyList<SweepPair> pairs, Func<SweepResultRow, string?> runPage, IReadOnlyList<ReportFigure> figures)
    {
        var html = new StringBuilder();
        Head(html, title);
        int done = rows.Count(r => r.Status == SweepRunStatus.Done);
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"lead\">{rows.Count} runs, {done} done; test NLL in nats at each run's eval k (lower is better).</p>\n");
        if (table1 is not null)
        {
            bool paper = table1.Any(t => t.PaperVae is not null);
            html.Append("<h2>Table 1 (Burda et al. 2016)</h2>\n<table>\n<tr><th>layers</th><th>k</th><th>VAE</th><th>IWAE</th>");
            if (paper) html.Append("<th>paper: VAE</th><th>paper: IWAE</th>");
            html.Append("</tr>\n");
            foreach (var t in table1)
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><th>{t.Layers}</th><th>{t.K}</th><td>{F2(t.Vae)}</td><td>{F2(t.Iwae)}</td>");
                if (paper) html.Append(CultureInfo.InvariantCulture, $"<td>{F2(t.PaperVae)}</td><td>{F2(t.PaperIwae)}</td>");
                html.Append("</tr>\n");
            }
            html.Append("</table>\n");
            if (paper) html.Append("<p class=\"lead\">The paper's figures are for full MNIST (60,000 training digits) after 3280 epochs.</p>\n");
        }
        if (pairs.Count > 0)
        {
            html.Append("<h2>VAE and IWAE side by side</h2>\n<table>\n<tr><th>pair</th><th>VAE NLL</th><th>IWAE NLL</th><th>IWAE &minus; VAE</th>" +
                        "<th>VAE active units</th><th>IWAE active units</th><th>VAE train s</th><th>IWAE train s</th></tr>\n");
            foreach (var pr in pairs)
                html.Append(CultureInfo.InvariantCulture, $"<tr><th>{E(pr.Label)}</th><td>{F2(pr.Vae.TestNll)}</td><td>{F2(pr.Iwae.TestNll)}</td>" +
                    $"<td>{F2(pr.Iwae.TestNll - pr.Vae.TestNll)}</td><td>{F0(pr.Vae.ActiveUnits)}</td><td>{F0(pr.Iwae.ActiveUnits)}</td>" +
                    $"<td>{F1(pr.Vae.TrainSeconds)}</td><td>{F1(pr.Iwae.TrainSeconds)}</td></tr>\n");
            html.Append("</table>\n");
        }
        html.Append("<h2>Runs</h2>\n<table>\n<tr><th>#</th><th>run</th><th>state</th><th>model</th><th>k</th><th>layers</th><th>architecture</th><th>estimator</th>" +
                    "<th>epochs</th><th>test NLL</th><th>ELBO</th><th>active units</th><th>train s</th></tr>\n");
        foreach (var r in rows)
        {
            string name = runPage(r) is { } page ? $"<a href=\"{E(page)}\">{E(r.Name)}</a>" : E(r.Name);
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{r.Index}</td><th>{name}</th><td>{E(r.Status.ToString().ToLowerInvariant())}</td><td>{E(r.Model)}</td>" +
                $"<td>{r.K}</td><td>{r.Layers}</td><td>{E(r.Architecture)}</td><td>{E(r.Estimator)}</td><td>{r.EpochsDone}/{r.TotalEpochs}</td>" +
                $"<td>{F2(r.TestNll)}</td><td>{F2(r.TestBoundK1)}</td><td>{F0(r.ActiveUnits)}</td><td>{F1(r.TrainSeconds)}</td></tr>\n");
        }
        html.Append("</table>\n");
        FigureList(html, figures);
        Foot(html);
        return html.ToString();
    }

    /// <summary>The PNG as a data: URI.</summary>
    public static string DataUri(string pngPath) => "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(pngPath));

    private static void ComparisonTable(StringBuilder html, RunResults r)
    {
        var models = r.Models;
        html.Append("<table>\n<tr><th></th>");
        foreach (var m in models) html.Append(CultureInfo.InvariantCulture, $"<th>{E(m.Model.ToUpperInvariant())}</th>");
        html.Append("</tr>\n");
        Row($"test NLL (k = {r.EvalK}), nats", m => m.TestNll, F2, lowerBetter: true);
        Row("test bound L<sub>1</sub> (ELBO), nats", m => m.TestBoundK1, F2, lowerBetter: false);
        Row($"test bound L<sub>{r.Config.K}</sub>, nats", m => m.TestBoundK, F2, lowerBetter: false);
        Row($"active units (of {r.Config.Latent})", m => m.ActiveUnits, v => F0(v), lowerBetter: false);
        Row("final train bound, nats", m => m.FinalTrainBound, F2, lowerBetter: null);
        Row("epochs", m => m.Epochs, v => F0(v), lowerBetter: null);
        Row("train time, s", m => m.TrainSeconds, F1, lowerBetter: null);
        Row("eval time, s", m => m.EvalSeconds, F1, lowerBetter: null);
        html.Append("</table>\n");

        // The better value of a row is bold when it is strictly better.
        void Row(string label, Func<ModelResult, double> value, Func<double?, string> format, bool? lowerBetter)
        {
            var values = models.Select(value).ToArray();
            double best = lowerBetter is null || values.Length < 2 ? double.NaN : lowerBetter.Value ? values.Min() : values.Max();
            bool tie = values.Count(v => v == best) > 1;
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{label}</th>");
            foreach (double v in values)
                html.Append(v == best && !tie ? $"<td><b>{format(v)}</b></td>" : $"<td>{format(v)}</td>");
            html.Append("</tr>\n");
        }
    }

    private static void FigureList(StringBuilder html, IReadOnlyList<ReportFigure> figures)
    {
        foreach (var f in figures)
        {
            if (f.PngPath.Length == 0)      // a figure that does not apply to these data: its title and why
            {
                html.Append(CultureInfo.InvariantCulture, $"<section>\n<h2>{E(f.Title)}</h2>\n<p class=\"note\">{E(f.Caption)}</p>\n</section>\n");
                continue;
            }
            if (!File.Exists(f.PngPath)) continue;
            html.Append(CultureInfo.InvariantCulture, $"<figure>\n<h2>{E(f.Title)}</h2>\n<img alt=\"{E(f.Title)}\" src=\"{DataUri(f.PngPath)}\">\n<figcaption>{E(f.Caption)}</figcaption>\n</figure>\n");
        }
    }

    private static void SettingsTable(StringBuilder html, RunResults r)
    {
        html.Append("<h2>Settings</h2>\n<table class=\"settings\">\n");
        foreach (var (section, name, value) in r.Settings)
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{E(section)}</th><td>{E(name)}</td><td>{E(value)}</td></tr>\n");
        html.Append("</table>\n");
    }

    private static void Head(StringBuilder html, string title)
    {
        html.Append($$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{E(title)}}</title>
            <style>
            body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1260px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
            h1 { font-size: 1.6em; margin-bottom: 0.2em; }
            h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
            .lead { color: #555; }
            table { border-collapse: collapse; margin: 0.6em 0; }
            th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }
            th { background: #f5f5f5; text-align: left; font-weight: 600; }
            table.settings td { text-align: left; font-family: "DejaVu Sans Mono", monospace; font-size: 0.9em; }
            figure { margin: 0; }
            figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
            figcaption { color: #555; font-size: 0.92em; margin: 0.3em 0 1em; }
            </style>
            </head>
            <body>
            <h1>{{E(title)}}</h1>

            """);
    }

    private static void Foot(StringBuilder html)
        => html.Append("<p class=\"lead\">Written by <code>iwae</code> (Iwae.NET); regenerate with <code>iwae plot --run DIR</code>.</p>\n</body>\n</html>\n");

    private static string E(string s) => WebUtility.HtmlEncode(s);
    private static string F2(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("F2", CultureInfo.InvariantCulture) : "-";
    private static string F1(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("F1", CultureInfo.InvariantCulture) : "-";
    private static string F0(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("F0", CultureInfo.InvariantCulture) : "-";
}
