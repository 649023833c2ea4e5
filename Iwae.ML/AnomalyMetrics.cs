namespace Iwae.ML;

/// <summary>
/// How well scores rank anomalies above normal rows: the area under the ROC curve and average precision, as
/// scikit-learn's <c>roc_auc_score</c> and <c>average_precision_score</c> define them (ties in the AUC count one half).
/// </summary>
public static class AnomalyMetrics
{
    /// <summary>
    /// The probability that a random anomaly scores above a random normal row (ties count one half): 1 is a perfect
    /// ranking, 0.5 a random one. <paramref name="scores"/>[i] belongs to a row with <paramref name="isAnomaly"/>[i].
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, a score is NaN, or one of the two classes is absent.</exception>
    public static double AreaUnderRoc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomaly)
    {
        var order = Sorted(scores, isAnomaly, out long positives, out long negatives);
        // Mann-Whitney: the sum of the anomalies' ranks (tied scores share their mean rank).
        double rankSum = 0;
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j < order.Length && scores[order[j]] == scores[order[i]]) j++;
            double meanRank = (i + 1 + j) / 2.0;    // ranks i+1 .. j
            for (int t = i; t < j; t++) if (isAnomaly[order[t]]) rankSum += meanRank;
            i = j;
        }
        return (rankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>
    /// Average precision: the mean over the anomalies of the precision among the rows that score at least as high as
    /// each (tied scores enter together), scikit-learn's step-wise definition. Equals the anomaly fraction for a random ranking.
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, a score is NaN, or one of the two classes is absent.</exception>
    public static double AveragePrecision(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomaly)
    {
        var order = Sorted(scores, isAnomaly, out long positives, out _);
        double ap = 0, lastRecall = 0;
        long truePositives = 0;
        // From the highest score down, one threshold per distinct score.
        for (int j = order.Length; j > 0;)
        {
            int i = j;
            while (i > 0 && scores[order[i - 1]] == scores[order[j - 1]]) i--;
            for (int t = i; t < j; t++) if (isAnomaly[order[t]]) truePositives++;
            long flagged = order.Length - i;
            double recall = (double)truePositives / positives;
            ap += (recall - lastRecall) * truePositives / flagged;
            lastRecall = recall;
            j = i;
        }
        return ap;
    }

    private static int[] Sorted(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomaly, out long positives, out long negatives)
    {
        if (scores.Length != isAnomaly.Length) throw new ArgumentException($"{scores.Length} scores for {isAnomaly.Length} labels");
        positives = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (float.IsNaN(scores[i])) throw new ArgumentException($"score {i} is NaN");
            if (isAnomaly[i]) positives++;
        }
        negatives = scores.Length - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException($"the rows need both classes: {positives} anomalies and {negatives} normal rows");
        var keys = scores.ToArray();
        var order = Enumerable.Range(0, scores.Length).ToArray();
        Array.Sort(keys, order);
        return order;
    }
}
