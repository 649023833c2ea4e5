using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Datasets;

public static partial class DataSource
{
    /// <summary>Array names that hold a training split, a test split and their labels, in the order they are looked for.</summary>
    private static readonly string[] TrainNames = ["train", "x_train", "train_x", "data"];
    private static readonly string[] TestNames = ["test", "x_test", "test_x", "testdata"];
    private static readonly string[] TrainLabelNames = ["y_train", "train_y", "train_labels", "target"];
    private static readonly string[] TestLabelNames = ["y_test", "test_y", "test_labels", "testtarget"];

    /// <summary>What scikit-learn says of a 1-D array where it wants examples: numpy users know it.</summary>
    internal const string OneDimensionalHint = "Expected 2D array, got 1D array instead: reshape your data either using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it contains a single sample.";

    /// <summary>One file, by its extension.</summary>
    private static (Dataset Train, Dataset Test) LoadFile(string path, double testFraction) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".npy" or ".csv" or ".amat" => Split(Single(path), testFraction),
        ".npz" => FromArrays(NpyReader.ReadNpz(path), path, testFraction, columnsAreExamples: false),
        ".mat" => FromArrays(MatArrays(path), path, testFraction, columnsAreExamples: true),
        _ => throw DataFormatException.At(path, "not a data file this reads: give a .npy, .npz, .csv, .amat or .mat file, or a folder of MNIST IDX files"),
    };

    /// <summary>The matrices of a MAT-file; a variable of any other kind is refused rather than passed over, since it may hold the data.</summary>
    private static IReadOnlyList<DataArray> MatArrays(string path)
    {
        var mat = MatReader.ReadFile(path);
        if (mat.Unsupported.Count == 0) return mat.Arrays;
        var u = mat.Unsupported;
        string which = u.Count == 1
            ? $"variable '{u[0].Name}' is a {u[0].Kind}, which iwae does not read"
            : $"variables {string.Join(", ", u.Take(5).Select(v => $"'{v.Name}' (a {v.Kind})"))}{(u.Count > 5 ? $" and {u.Count - 5} more" : "")} are of kinds iwae does not read";
        throw DataFormatException.At(path,
            $"{which}: keep only real 2-D numeric matrices (double, single, integer or logical) in the file, e.g. reshape or drop the others before saving");
    }

    /// <summary>Refuses a 1-D array (numpy's (N,); a MATLAB row vector, as scipy saves a 1-D array) where examples are expected.</summary>
    private static void CheckExamples(DataArray a, string path, bool columnsAreExamples)
    {
        string? shape = columnsAreExamples
            ? a.Rows == 1 ? $"variable '{a.Name}' is {a.Rows}x{a.Cols}, a row vector (scipy.io.savemat saves a 1-D array so)" : null
            : a.Rank == 1 ? $"{(a.Name == Path.GetFileName(path) ? "the array" : $"array '{a.Name}'")} has shape ({a.Rows},)" : null;
        if (shape is not null) throw DataFormatException.At(path, $"{shape}: {OneDimensionalHint}");
    }

    /// <summary>
    /// Named arrays of one file: a training array and a test array when it has them (<see cref="TrainNames"/>,
    /// <see cref="TestNames"/>), with labels when present; else its only array, split. MAT files store an image set
    /// with one example per column, each image column-major (Burda et al.'s Omniglot): those are turned to rows.
    /// </summary>
    private static (Dataset Train, Dataset Test) FromArrays(IReadOnlyList<DataArray> arrays, string path, double testFraction, bool columnsAreExamples)
    {
        DataArray? Find(string[] names) => names.Select(n => arrays.FirstOrDefault(a => string.Equals(a.Name, n, StringComparison.OrdinalIgnoreCase))).FirstOrDefault(a => a is not null);
        if (arrays.Count == 0)
            throw DataFormatException.At(path, columnsAreExamples ? "holds no variables: nothing to train on" : "holds no arrays: nothing to train on");
        var train = Find(TrainNames);
        var test = Find(TestNames);
        if (train is null || test is null)
        {
            if (arrays.Count == 1)
            {
                CheckExamples(arrays[0], path, columnsAreExamples);
                var only = columnsAreExamples ? ImagesFromColumns(arrays[0]) : arrays[0];
                return Split(FromArray(only, path, SquareSide(only.Cols), origin: OriginOf(only, columnsAreExamples)), testFraction);
            }
            throw DataFormatException.At(path,
                $"holds {string.Join(", ", arrays.Select(a => $"{a.Name} [{a.Rows}x{a.Cols}]"))}: name the splits {TrainNames[0]} and {TestNames[0]} (or x_train and x_test), or keep one array to split");
        }
        CheckExamples(train, path, columnsAreExamples);
        CheckExamples(test, path, columnsAreExamples);
        if (columnsAreExamples) (train, test) = (ImagesFromColumns(train), ImagesFromColumns(test));
        if (train.Cols != test.Cols) throw DataFormatException.At(path, $"the training examples have {train.Cols} values, the test examples {test.Cols}");
        int side = SquareSide(train.Cols);
        return (FromArray(train, path, side, Labels(Find(TrainLabelNames), train.Rows, columnsAreExamples), OriginOf(train, columnsAreExamples)),
                FromArray(test, path, side, Labels(Find(TestLabelNames), test.Rows, columnsAreExamples), OriginOf(test, columnsAreExamples)));
    }

    /// <summary>Where the examples of a named array sit: an .npz member's rows, or a MAT variable's columns (images column-major).</summary>
    private static DataOrigin OriginOf(DataArray examples, bool columnsAreExamples) => columnsAreExamples
        ? DataOrigin.Counted(RowNumbering.Column, examples.Rows, examples.Name, SquareSide(examples.Cols))
        : DataOrigin.Counted(RowNumbering.Row, examples.Rows, examples.Name);

    /// <summary>
    /// A data set from a 2-D array of examples in rows. Bytes are scaled to [0, 1] (byte / 255); other types keep
    /// their values. With <paramref name="side"/> &gt; 0 the examples are side x side images. <paramref name="origin"/>
    /// says where each row sits in <paramref name="source"/>; by default a text file's lines (<see cref="DataArray.Lines"/>),
    /// else the array's rows 1..N.
    /// </summary>
    public static Dataset FromArray(DataArray array, string source, int side = 0, byte[]? labels = null, DataOrigin? origin = null)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Rows == 0 || array.Cols == 0) throw DataFormatException.At(source, $"array {array.Name} is empty ({array.Rows}x{array.Cols})");
        origin ??= array.Lines is { } lines ? new DataOrigin(RowNumbering.Line, lines) : DataOrigin.Counted(RowNumbering.Row, array.Rows);
        var t = Tensor<float>.Zeros(array.Rows, array.Cols);
        var dst = t.Span;
        bool bytes = array.DType == "uint8";
        for (int i = 0; i < dst.Length; i++)
        {
            float v = bytes ? array.Values[i] / 255f : array.Values[i];     // byte / 255, as the IDX reader
            if (!float.IsFinite(v)) throw DataFormatException.At(source, $"{origin.Locate(i / array.Cols, i % array.Cols)}: value {array.Values[i]} is not finite");
            dst[i] = v;
        }
        return side > 0 && side * side == array.Cols
            ? new Dataset(t, labels ?? [], side, side, source, origin)
            : Dataset.Vectors(t, labels, source, origin);
    }

    /// <summary>The side of a square image of <paramref name="d"/> pixels, or 0.</summary>
    private static int SquareSide(int d)
    {
        int side = (int)Math.Round(Math.Sqrt(d));
        return side > 1 && side * side == d ? side : 0;
    }

    /// <summary>[D, N] with one example per column, each a column-major image, as [N, D] row-major images.</summary>
    private static DataArray ImagesFromColumns(DataArray a)
    {
        int d = a.Rows, n = a.Cols, side = SquareSide(d);
        var values = new float[a.Values.Length];
        for (int e = 0; e < n; e++)
            for (int p = 0; p < d; p++)
            {
                // Pixel p of image e in row-major order: (row, col) = (p / side, p % side), stored at col * side + row.
                int stored = side > 0 ? (p % side) * side + p / side : p;
                values[e * d + p] = a.Values[stored * n + e];
            }
        return a with { Rows = n, Cols = d, Values = values };
    }

    private static DataArray Transposed(DataArray a)
    {
        var values = new float[a.Values.Length];
        for (int r = 0; r < a.Rows; r++)
            for (int c = 0; c < a.Cols; c++) values[c * a.Rows + r] = a.Values[r * a.Cols + c];
        return a with { Rows = a.Cols, Cols = a.Rows, Values = values };
    }

    /// <summary>
    /// Labels of <paramref name="count"/> examples: a vector of class numbers, or a one-hot matrix (examples in rows,
    /// or in columns for MAT files); null when absent or not of that shape.
    /// </summary>
    private static byte[]? Labels(DataArray? a, int count, bool columnsAreExamples)
    {
        if (a is null) return null;
        if (a.Rows * a.Cols == count)
            return a.Values.All(v => v >= 0 && v <= 255 && v == MathF.Floor(v)) ? a.Values.Select(v => (byte)v).ToArray() : null;
        var oneHot = columnsAreExamples ? Transposed(a) : a;
        if (oneHot.Rows != count || oneHot.Cols > 256) return null;
        var labels = new byte[count];
        for (int r = 0; r < count; r++)
        {
            var row = oneHot.Values.AsSpan(r * oneHot.Cols, oneHot.Cols);
            labels[r] = (byte)row.IndexOf(MathF.Max(0, System.Numerics.Tensors.TensorPrimitives.Max<float>(row)));
        }
        return labels;
    }
}
