using Iwae.Autodiff;
using Iwae.Core.Checkpoints;

namespace Iwae.Core;

/// <summary>
/// The calls behind `iwae export` and `iwae import`: a checkpoint to and from a PyTorch state_dict
/// (<see cref="TorchExport"/>), and the test set our evaluation uses, for evaluating the same model elsewhere.
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
    /// Everything is read and checked before anything is written. Returns the model's config.
    /// </summary>
    public static ModelConfig ExportTorch(string checkpoint, string outPath, string? testDataOut = null, string? dataSpec = null)
    {
        var saved = RunCheckpoint.Read(checkpoint);
        var model = saved.Model();
        var settings = saved.Settings(data: dataSpec);
        var data = testDataOut is null ? null : Runs.LoadData(settings, model.Config);
        TorchExport.Export(model, outPath);
        if (data is not null) WriteTestData(data.TestX, testDataOut!, settings, binarized: model.Config.Observation == Observation.Bernoulli);
        return model.Config;
    }

    /// <summary>
    /// `iwae import`: the state_dict <paramref name="from"/> (<see cref="TorchExport.Import"/>, with <paramref name="config"/>
    /// for a file that carries none) written to <paramref name="outPath"/> as a checkpoint of weights and config
    /// (<see cref="RunCheckpoint.SaveModel"/>), which eval, sample, score and snr read. Returns the model's config.
    /// </summary>
    public static ModelConfig ImportTorch(string from, string outPath, ModelConfig? config = null)
    {
        var model = TorchExport.Import(from, config);
        RunCheckpoint.SaveModel(outPath, model);
        return model.Config;
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
