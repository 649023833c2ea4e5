using System.Reflection;
using System.Text.RegularExpressions;
using Iwae.Core.Models;
using Iwae.Datasets;
using Iwae.Experiments;

namespace Iwae.Tests.Packaging;

/// <summary>
/// The projects' references point one way (Cli -> Experiments -> Datasets -> Core -> Autodiff): a program that trains
/// with Iwae.Core takes in no HTTP client, no file-format reader and no cluster file writer.
/// </summary>
public class LayeringTests
{
    private static string[] References(Assembly a) => a.GetReferencedAssemblies().Select(r => r.Name!).Order().ToArray();

    [Test]
    public void Core_ReferencesOnlyAutodiffAndTheRuntime_NoHttpNoCompression()
    {
        var refs = References(typeof(ModelConfig).Assembly);
        Assert.That(refs, Has.Member("Iwae.Autodiff"));
        Assert.That(refs.Where(r => r.StartsWith("Iwae.", StringComparison.Ordinal)), Is.EqualTo(new[] { "Iwae.Autodiff" }));
        Assert.That(refs, Has.None.StartsWith("System.Net").And.None.StartsWith("System.IO.Compression"), string.Join(", ", refs));
    }

    [Test]
    public void Core_HoldsNoReaderDownloaderOrClusterCode()
    {
        var names = typeof(ModelConfig).Assembly.GetTypes().Select(t => t.Name).ToArray();
        Assert.That(names, Has.None.Contains("Reader").And.None.Contains("Download").And.None.Contains("Slurm")
            .And.None.Contains("Kubernetes").And.None.Contains("Sweep").And.None.Contains("Mnist"));
    }

    /// <summary>
    /// Every setting is checked once, by the libraries (each refusal a <see cref="Iwae.Autodiff.SettingException"/> naming its
    /// field); the command line only parses, says which options go together, and names a refused field by its option
    /// (CliOptions.Describe). So its sources compare no value with a limit, build no estimator to validate it, and
    /// call one check: the run settings' (RunSettings.Validate), before printing anything.
    /// </summary>
    [Test]
    public void TheCommandLine_ChecksNoSettingOfItsOwn()
    {
        var files = Directory.EnumerateFiles(Path.Combine(TestUtil.RepoRoot(), "Iwae.Cli"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        var found = new List<string>();
        foreach (string f in files)
            foreach (var (line, i) in File.ReadLines(f).Select((l, i) => (l, i + 1)))
                if (Regex.IsMatch(line, @"Limits\.\w+\.(Check|Allows)\(|\.Validate\(|Estimator<") && !line.Contains("settings.Validate(config, options);", StringComparison.Ordinal))
                    found.Add($"{Path.GetFileName(f)}:{i}: {line.Trim()}");
        Assert.That(found, Is.Empty);
    }

    [Test]
    public void ML_SitsOnCoreAlone()
    {
        var refs = References(typeof(Iwae.ML.IwaeAnomalyEstimator).Assembly);
        Assert.That(refs.Where(r => r.StartsWith("Iwae.", StringComparison.Ordinal)), Is.EqualTo(new[] { "Iwae.Autodiff", "Iwae.Core" }));
        Assert.That(refs, Has.Member("Microsoft.ML.Core").And.Member("Microsoft.ML.Data"));
    }

    [Test]
    public void Datasets_DoNotKnowTheExperiments_AndExperimentsSitAboveBoth()
    {
        var datasets = References(typeof(DataSource).Assembly).Where(r => r.StartsWith("Iwae.", StringComparison.Ordinal));
        Assert.That(datasets, Has.Member("Iwae.Core"));
        Assert.That(datasets, Is.SubsetOf(new[] { "Iwae.Core", "Iwae.Autodiff" }));
        Assert.That(References(typeof(Runs).Assembly), Has.Member("Iwae.Core").And.Member("Iwae.Datasets").And.No.Member("iwae"));
    }
}
