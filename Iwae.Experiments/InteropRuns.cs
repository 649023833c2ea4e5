using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;

namespace Iwae.Experiments;

/// <summary>
/// The calls behind `iwae export` and `iwae import`: a checkpoint to and from a PyTorch state_dict
/// (<see cref="TorchExport"/>), a checkpoint's networks as ONNX graphs (<see cref="OnnxExport"/>), and the test set our
/// evaluation uses, for evaluating the same model elsewhere.
/// </summary>
public static class InteropRuns
{
    /// <summary>The metadata "format" of a test-set file written by <see cref="WriteTestData"/>.</summary>
    public const string TestDataFormat = "iwae.net/test-data-1";

    /// <summary>The tensor name of the test set in such a file.</summary>
    public const string TestDataTensor = "x";

    /// <summary>
    /// `iwae export --format torch`: the model of <paramref name="checkpoint"/> written to <paramref name="outPath"/> as a
    /// state_dict (<see cref="TorchExport.Export"/>); with <paramref name="testDataOut"/>, also the test split of
    /// <paramref name="dataSpec"/> (null: the data the checkpoint was trained on) as `iwae eval` sees it (<see cref="WriteTestData"/>).
    /// The paths are checked first (<see cref="OutputFiles.Check"/>; both outputs are .safetensors files), then everything is
    /// read, then both files are written under temporary names and renamed together, their folders created if missing: a
    /// failure anywhere leaves neither. Returns the model's config.
    /// </summary>
    public static ModelConfig ExportTorch(string checkpoint, string outPath, string? testDataOut = null, string? dataSpec = null)
    {
        OutputFiles.Check(inputs: [("--checkpoint", checkpoint), ("--data", dataSpec)], files: [("--out", outPath), ("--test-data-out", testDataOut)]);
        RequireSafetensors("--out", outPath, "a PyTorch state_dict in safetensors format, which torch.load cannot read (load it with safetensors.torch.load_file, or as docs/interop.md shows)");
        if (testDataOut is not null) RequireSafetensors("--test-data-out", testDataOut, "the test set in safetensors format (as docs/interop.md reads it)");
        var saved = RunCheckpoint.Read(checkpoint);
        var model = saved.Model();
        var settings = saved.Settings(data: dataSpec);
        var data = testDataOut is null ? null : Runs.LoadData(settings, model.Config);
        using var outputs = new OutputFiles();
        outputs.Write("--out", outPath, temp => TorchExport.Export(model, temp));
        if (data is not null)
            outputs.Write("--test-data-out", testDataOut!, temp => WriteTestData(data.TestX, temp, settings, binarized: model.Config.Observation == Observation.Bernoulli));
        outputs.Commit();
        return model.Config;
    }

    /// <summary>
    /// `iwae export --format onnx`: the networks of <paramref name="checkpoint"/>'s model as ONNX graphs
    /// (<see cref="OnnxExport.Graphs"/>: encoder and decoder, and with two stochastic layers encoder.h2 and decoder.h1),
    /// each in the file <see cref="OnnxPath"/> names after <paramref name="outPath"/>; with <paramref name="testDataOut"/>,
    /// also the test set, as <see cref="ExportTorch"/> writes it. The paths (all four graphs' names, whatever the model) are
    /// checked first, then everything is read and built, then the files are written under temporary names and renamed
    /// together: a failure anywhere leaves none. Returns the model's config and the graphs' paths, in the order written.
    /// </summary>
    public static (ModelConfig Config, IReadOnlyList<string> Graphs) ExportOnnx(string checkpoint, string outPath, string? testDataOut = null, string? dataSpec = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        string[] networks = ["encoder", "encoder.h2", "decoder.h1", "decoder"];
        OutputFiles.Check(inputs: [("--checkpoint", checkpoint), ("--data", dataSpec)],
            files: networks.Select(n => ("--out", (string?)OnnxPath(outPath, n))).Append(("--test-data-out", testDataOut)));
        if (testDataOut is not null) RequireSafetensors("--test-data-out", testDataOut, "the test set in safetensors format (as docs/interop.md reads it)");
        var saved = RunCheckpoint.Read(checkpoint);
        var model = saved.Model();
        var graphs = OnnxExport.Graphs(model);
        var settings = saved.Settings(data: dataSpec);
        var data = testDataOut is null ? null : Runs.LoadData(settings, model.Config);
        using var outputs = new OutputFiles();
        var paths = new List<string>();
        foreach (var (network, bytes) in graphs)
        {
            string path = OnnxPath(outPath, network);
            outputs.Write("--out", path, temp => File.WriteAllBytes(temp, bytes));
            paths.Add(path);
        }
        if (data is not null)
            outputs.Write("--test-data-out", testDataOut!, temp => WriteTestData(data.TestX, temp, settings, binarized: model.Config.Observation == Observation.Bernoulli));
        outputs.Commit();
        return (model.Config, paths);
    }

    /// <summary>The extension of an ONNX file.</summary>
    public const string OnnxExtension = ".onnx";

    /// <summary>
    /// The file `export --format onnx --out PATH` writes for <paramref name="network"/>: PATH.&lt;network&gt;.onnx
    /// (PATH.encoder.onnx, PATH.decoder.onnx; PATH.encoder.h2.onnx, PATH.decoder.h1.onnx), a trailing ".onnx" of PATH
    /// dropped first, so "m" and "m.onnx" name the same files.
    /// </summary>
    /// <exception cref="ArgumentException">PATH names a folder (an existing one, or it ends in a separator) rather than the start of the files' names.</exception>
    public static string OnnxPath(string outPath, string network)
    {
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        string stem = outPath.EndsWith(OnnxExtension, StringComparison.OrdinalIgnoreCase) ? outPath[..^OnnxExtension.Length] : outPath;
        // A folder given as --out would get its files beside it (models.encoder.onnx next to models/), not in it.
        if (stem.Length == 0 || stem.EndsWith(System.IO.Path.DirectorySeparatorChar) || stem.EndsWith(System.IO.Path.AltDirectorySeparatorChar) || Directory.Exists(stem))
            throw new ArgumentException($"--out {outPath}: give the start of the files' names (e.g. models/mnist writes models/mnist.encoder.onnx and models/mnist.decoder.onnx)");
        return stem + "." + network + OnnxExtension;
    }

    /// <summary>
    /// `iwae import`: the state_dict <paramref name="from"/> (<see cref="TorchExport.Import"/>, with <paramref name="config"/>
    /// for a file that carries none) written to <paramref name="outPath"/>, a .safetensors file not <paramref name="from"/>, as
    /// a checkpoint of weights and config (<see cref="RunCheckpoint.SaveModel"/>), which eval, sample, score and snr read;
    /// its folder is created if missing. Returns the model's config.
    /// </summary>
    public static ModelConfig ImportTorch(string from, string outPath, ModelConfig? config = null)
    {
        OutputFiles.Check(inputs: [("--from", from)], files: [("--out", outPath)]);
        RequireSafetensors("--out", outPath, "a checkpoint in safetensors format, as train writes and eval reads");
        var model = TorchExport.Import(from, config);
        using var outputs = new OutputFiles();
        outputs.Write("--out", outPath, temp => RunCheckpoint.SaveModel(temp, model));
        outputs.Commit();
        return model.Config;
    }

    /// <summary>The file name extension of every file export and import write.</summary>
    public const string Extension = ".safetensors";

    // A safetensors file under another name misleads: torch.load, say, cannot read a "model.pt" that holds one.
    private static void RequireSafetensors(string option, string path, string what)
    {
        if (!path.EndsWith(Extension, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{option} {path}: the file is {what}; name it {System.IO.Path.ChangeExtension(path, Extension)}");
    }

    /// <summary>
    /// Writes <paramref name="testX"/> [N,D], the test set as the evaluation reads it, to <paramref name="path"/>
    /// atomically: one F32 tensor "<see cref="TestDataTensor"/>" [N,D] in a safetensors file, with metadata "format"
    /// (<see cref="TestDataFormat"/>), "data" (<paramref name="settings"/>' data, "" for the embedded subset) and, when
    /// <paramref name="binarized"/> (a Bernoulli model's test set, binarised once), "binarization_seed".
    /// </summary>
    public static void WriteTestData(Tensor<float> testX, string path, RunSettings settings, bool binarized)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var metadata = new Dictionary<string, string> { ["format"] = TestDataFormat, ["data"] = settings.Data ?? "" };
        if (binarized) metadata["binarization_seed"] = settings.TestBinarizationSeed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        SafeTensors.Write(path, metadata, [SafeTensorEntry.FromF32(TestDataTensor, [testX.Rows, testX.Cols], testX.Span)]);
    }
}
