using System.Text.RegularExpressions;
using Iwae.Cli.Plots;
using Iwae.Cli.Report;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;

namespace Iwae.Tests.Cli;

/// <summary>report.html: the table values of results.json, every image embedded, nothing fetched from outside.</summary>
public class ReportTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir()
    {
        _dir = Path.Combine(Path.GetTempPath(), "iwae-report-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveDir()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static ModelResult Result(string model, double nll, double b1, double bk, int active, double trainS) => new()
    {
        Model = model, K = 5, TestNll = nll, TestBoundK1 = b1, TestBoundK = bk, ActiveUnits = active,
        TrainSeconds = trainS, EvalSeconds = 12.34, Epochs = 40, FinalTrainBound = -91.237,
        UnitVariances = [0.5, 0.2, 0.001], Checkpoint = null,
    };

    /// <summary>results.json written by the same code `iwae compare` uses.</summary>
    private string WriteResults(string dir, ModelConfig? config = null, string? data = null)
    {
        var folder = new RunFolder(dir).Create();
        folder.WriteResults(new RunResults
        {
            Models = [Result("vae", 95.4321, -99.876, -97.001, 19, 321.04), Result("iwae", 93.9876, -100.555, -95.444, 27, 345.67)],
            Config = config ?? new ModelConfig { K = 5, Hidden = [200, 200], Latent = 50 },
            Train = new TrainOptions { Stages = 4 },
            EvalK = 5000,
            Data = data ?? Mnist.SubsetFolder,
            TrainImages = 8004,
            TestImages = 1996,
        });
        return folder.Results;
    }

    private static RunResults Read(string resultsJson) => new RunFolder(Path.GetDirectoryName(resultsJson)!).ReadResults();

    private ReportFigure[] Figures()
    {
        string a = Path.Combine(_dir, "a.png"), b = Path.Combine(_dir, "b.png");
        ActiveUnitsPlot.Save(a, [("vae", [1.0, 0.1, 1e-4]), ("iwae", [1.0, 0.5, 0.05])], 0.01, 300, 200);
        DigitRowsPlot.Save(b, [new DigitRow("x", [new float[28 * 28]])]);
        return [new ReportFigure("Active units", "caption <a>", a), new ReportFigure("Digits", "two", b)];
    }

    [Test]
    public void Report_ShowsTheTableValuesOfResultsJson()
    {
        var results = Read(WriteResults(_dir));
        string html = ReportHtml.Build("VAE vs IWAE: test", results, Figures());
        foreach (var value in new[] { "95.43", "93.99", "-99.88", "-100.56", "-97.00", "-95.44", "19", "27", "321.0", "345.7", "12.3", "-91.24", "40" })
            Assert.That(html, Does.Contain($"<td>{value}</td>").Or.Contain($"<td><b>{value}</b></td>"), value);
        Assert.That(html, Does.Contain("<td><b>93.99</b></td>"), "the lower NLL is bold");
        Assert.That(html, Does.Contain("<td><b>-99.88</b></td>"), "the higher ELBO is bold");
        Assert.That(html, Does.Contain("test NLL (k = 5000)"));
        Assert.That(html, Does.Contain("784-200-200-50"));
        Assert.That(html, Does.Contain("<th>VAE</th>").And.Contain("<th>IWAE</th>"));
        // The settings: the config, the schedule, the data.
        Assert.That(html, Does.Contain("<td>stages</td><td>4</td>").And.Contain("data/mnist-subset").And.Contain("<td>batch_size</td><td>20</td>"));
    }

    [Test]
    public void Report_EmbedsEveryImage_AndReferencesNothingOutside()
    {
        var figures = Figures();
        string html = ReportHtml.Build("r", Read(WriteResults(_dir)), figures);
        var sources = Regex.Matches(html, "<img [^>]*src=\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.That(sources, Has.Length.EqualTo(figures.Length));
        for (int i = 0; i < sources.Length; i++)
        {
            Assert.That(sources[i], Does.StartWith("data:image/png;base64,"));
            Assert.That(Convert.FromBase64String(sources[i]["data:image/png;base64,".Length..]), Is.EqualTo(File.ReadAllBytes(figures[i].PngPath)));
        }
        Assert.That(Regex.Matches(html, "(src|href)=").Count, Is.EqualTo(figures.Length), "no other src or href");
        Assert.That(html, Does.Not.Contain("http:").And.Not.Contain("https:").And.Not.Contain("<script").And.Not.Contain("<link").And.Not.Contain("url("));
        Assert.That(html, Does.Contain("caption &lt;a&gt;"), "text is escaped");
        Assert.That(html, Does.StartWith("<!DOCTYPE html>").And.EndWith("</html>\n"));
    }

    [Test]
    public void Report_SkipsAMissingFigure()
    {
        var figures = new[] { new ReportFigure("gone", "", Path.Combine(_dir, "none.png")) };
        string html = ReportHtml.Build("r", Read(WriteResults(_dir)), figures);
        Assert.That(html, Does.Not.Contain("<img"));
    }

    [Test]
    public void RunResults_Malformed_NamesTheFile()
    {
        string path = Path.Combine(_dir, "results.json");
        File.WriteAllText(path, "{\"models\": 3}");
        Assert.That(() => new RunFolder(_dir).ReadResults(), Throws.InstanceOf<InvalidDataException>().With.Message.Contains(path));
        Assert.That(() => new RunFolder(Path.Combine(_dir, "none")).ReadResults(), Throws.InstanceOf<FileNotFoundException>());
    }

    [TestCase("100x1,200x2", new[] { "100", "200,200" })]
    [TestCase(" 50 , 400X3 ", new[] { "50", "400,400,400" })]
    [TestCase(SweepReport.DefaultSpec, new[] { "100", "200", "100,100", "200,200" })]
    public void SweepSpec_Parses(string spec, string[] expected)
        => Assert.That(SweepReport.ParseSpec(spec).Select(h => string.Join(",", h)), Is.EqualTo(expected));

    [TestCase("")]
    [TestCase("100x0")]
    [TestCase("0x2")]
    [TestCase("100x2x3")]
    [TestCase("wide")]
    [TestCase("100x11")]
    public void SweepSpec_RejectsBadItems(string spec)
        => Assert.That(() => SweepReport.ParseSpec(spec), Throws.ArgumentException.With.Message.Contains("--sweep"));
}
