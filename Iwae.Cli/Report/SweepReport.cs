using System.Text.Json;
using Iwae.Cli.Plots;
using Iwae.Core;

namespace Iwae.Cli.Report;

/// <summary>
/// An architecture sweep's folder: sweep.json lists the run folders (one `iwae compare` each, in subfolders);
/// the sweep's report.html puts their results in one table and one chart and links each run's own report.
/// </summary>
public static class SweepReport
{
    /// <summary>The index file of a sweep folder.</summary>
    public const string IndexFile = "sweep.json";

    /// <summary>The default sweep: width 100 and 200 at depth 1 and 2 (a 2 x 2 design).</summary>
    public const string DefaultSpec = "100x1,200x1,100x2,200x2";

    /// <summary>
    /// Parses "WIDTHxDEPTH,..." (e.g. "100x1,200x2"; a bare width means depth 1) into encoder hidden widths.
    /// </summary>
    public static int[][] ParseSpec(string spec)
    {
        var items = spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (items.Length == 0) throw new ArgumentException($"--sweep needs WIDTHxDEPTH items separated by commas (e.g. {DefaultSpec}), got '{spec}'");
        var result = new int[items.Length][];
        for (int i = 0; i < items.Length; i++)
        {
            var parts = items[i].Split('x', 'X');
            int width = ParseInt(parts[0]), depth = parts.Length == 2 ? ParseInt(parts[1]) : parts.Length == 1 ? 1 : -1;
            if (width < 1 || depth < 1 || depth > 10)
                throw new ArgumentException($"--sweep items must be WIDTHxDEPTH with a positive width and a depth of 1..10 (e.g. {DefaultSpec}), got '{items[i]}'");
            result[i] = Enumerable.Repeat(width, depth).ToArray();
        }
        return result;
    }

    private static int ParseInt(string s)
        => int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v) ? v : -1;

    /// <summary>The subfolder of one architecture: "h200-200" for hidden 200,200.</summary>
    public static string FolderName(int[] hidden) => "h" + string.Join("-", hidden);

    /// <summary>Writes sweep.json listing <paramref name="folders"/> (relative to <paramref name="sweepDir"/>).</summary>
    public static void WriteIndex(string sweepDir, IReadOnlyList<string> folders)
        => AtomicFile.WriteAllText(Path.Combine(sweepDir, IndexFile), IwaeJson.Serialize(new { runs = folders }));

    /// <summary>The run folders listed in <paramref name="sweepDir"/>'s sweep.json.</summary>
    public static IReadOnlyList<string> ReadIndex(string sweepDir)
    {
        string path = Path.Combine(sweepDir, IndexFile);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.GetProperty("runs").EnumerateArray().Select(e => e.GetString() ?? throw new InvalidDataException("null folder")).ToArray();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: not a valid sweep index ({e.Message.ReplaceLineEndings(" ")})");
        }
    }

    /// <summary>sweep.png and the sweep's report.html from the runs' results.json files; returns the files written.</summary>
    public static IReadOnlyList<string> Write(string sweepDir, Action<string>? log = null)
    {
        var rows = ReadIndex(sweepDir).Select(f => new SweepRow(f, new RunFolder(Path.Combine(sweepDir, f)).ReadResults())).ToArray();
        var figures = new List<ReportFigure>();
        var written = new List<string>();
        var points = rows.Select(r => new SweepPoint(r.Results.Config.Architecture,
            r.Results.Model("vae")?.TestNllK5000 ?? double.NaN, r.Results.Model("iwae")?.TestNllK5000 ?? double.NaN,
            r.Results.Model("vae")?.ActiveUnits ?? 0, r.Results.Model("iwae")?.ActiveUnits ?? 0)).ToArray();
        if (points.Length > 0)
        {
            string png = Path.Combine(sweepDir, "sweep.png");
            SweepPlot.Save(png, points);
            written.Add(png);
            figures.Add(new ReportFigure("Test NLL and active units by architecture",
                "Each point is one run (VAE and IWAE trained with identical settings); each run's own page has its learning curves, latent space and samples.", png));
        }
        string report = Path.Combine(sweepDir, RunFolder.ReportFile);
        string title = $"Architecture sweep: {Path.GetFileName(Path.GetFullPath(sweepDir).TrimEnd(Path.DirectorySeparatorChar))}";
        AtomicFile.WriteAllText(report, ReportHtml.BuildSweep(title, rows, figures));
        written.Add(report);
        log?.Invoke($"sweep report: {report}");
        return written;
    }
}
