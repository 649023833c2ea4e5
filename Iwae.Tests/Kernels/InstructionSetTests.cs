using System.Diagnostics;
using System.Text.Json;
using Iwae.Datasets;
using Iwae.Tests.Cli;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The bits of a run do not depend on the instruction set: a short training, run in child processes under each path
/// the runtime's knobs and IWAE_SIMD select (AVX-512, AVX2, SSE or AdvSimd at 128 bits, scalar), writes the same
/// checkpoint bytes and the same figures. The in-process kernel tests force each path of one runtime; this one also
/// covers what the JIT emits when the runtime itself is told the machine has less.
/// </summary>
[NonParallelizable]
public class InstructionSetTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "iwae-isa-" + Guid.NewGuid().ToString("N")[..8]));

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Each setting with the widest kernel path it may report. A knob the runtime does not know is ignored without a
    /// word (.NET 10 reads DOTNET_EnableAVX512, not .NET 8's DOTNET_EnableAVX512F), so the widest path each one
    /// allows is checked too: else "AVX-512 off" would quietly run AVX-512 again.
    /// </summary>
    private static readonly (string Name, string Variable, string Value, string Widest)[] Settings =
    [
        ("default", "", "", "Vector512"),
        ("AVX-512 off", "DOTNET_EnableAVX512", "0", "Vector256"),
        ("AVX2 off", "DOTNET_EnableAVX2", "0", "Vector128"),
        ("all AVX off", "DOTNET_EnableAVX", "0", "Vector128"),
        ("IWAE_SIMD=128", "IWAE_SIMD", "128", "Vector128"),
        ("IWAE_SIMD=scalar", "IWAE_SIMD", "scalar", "Scalar"),
    ];

    private static readonly string[] Widths = ["Scalar", "Vector128", "Vector256", "Vector512"];

    /// <summary>`dotnet iwae.dll ARGS` with <paramref name="variable"/> set: its exit code and stderr.</summary>
    private static (int Code, string Err) Iwae(string variable, string value, string[] args)
    {
        var psi = CliRun.ChildProcess(args);
        foreach (var (_, knob, _, _) in Settings) psi.Environment.Remove(knob);      // none inherited from this process
        if (variable.Length > 0) psi.Environment[variable] = value;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, err.Result);
    }

    [Test]
    public void AShortTraining_WritesTheSameCheckpointBytes_OnEveryPath()
    {
        // 300 real digits: an epoch of 14 steps, then the evaluation, in a second or two even on the scalar path.
        var (train, _) = Mnist.Load(Mnist.DefaultFolder());
        string data = Path.Combine(_dir, "digits.npy");
        DataFormatsCliTests.WriteNpy(data, train.Images.RowSlice(0, 300).ToArray(), 300, train.PixelsPerImage);

        var runs = new List<(string Name, byte[] Checkpoint, string Kernels, double Nll)>();
        foreach (var (name, variable, value, widest) in Settings)
        {
            string out_ = Path.Combine(_dir, name.Replace(' ', '-').Replace('=', '-'));
            var (code, err) = Iwae(variable, value, ["train", "--data", data, "--epochs", "1", "--hidden", "24", "--latent", "4", "--k", "3",
                "--batch", "20", "--eval-k", "7", "--seed", "5", "--threads", "2", "--out", out_]);
            Assert.That(code, Is.Zero, $"{name}: {err}");
            using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(out_, "results.json")));
            var model = results.RootElement.GetProperty("models")[0];
            runs.Add((name, File.ReadAllBytes(Path.Combine(out_, "iwae.safetensors")),
                results.RootElement.GetProperty("kernels").GetString()!, model.GetProperty("test_nll").GetDouble()));
            TestContext.Out.WriteLine($"{name}: kernels {runs[^1].Kernels}, test NLL {runs[^1].Nll:R}");
            Assert.That(Array.IndexOf(Widths, runs[^1].Kernels), Is.InRange(0, Array.IndexOf(Widths, widest)),
                $"{name} ran {runs[^1].Kernels}: the setting did not reach the JIT");
        }

        Assert.That(runs.Single(r => r.Name == "IWAE_SIMD=128").Kernels, Is.EqualTo("Vector128"), "the cap reaches the kernels");
        Assert.That(runs.Select(r => r.Kernels).Distinct().Count(), Is.GreaterThanOrEqualTo(3), "the settings ran at least three paths");
        foreach (var r in runs.Skip(1))
        {
            Assert.That(r.Nll, Is.EqualTo(runs[0].Nll), $"{r.Name} ({r.Kernels}) vs default ({runs[0].Kernels}): test NLL");
            Assert.That(r.Checkpoint.SequenceEqual(runs[0].Checkpoint), Is.True, $"{r.Name} ({r.Kernels}) vs default ({runs[0].Kernels}): checkpoint bytes");
        }
    }
}
