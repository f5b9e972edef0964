"""The national directory of health professionals (Annuaire Santé, RPPS extraction): every
general practitioner practising in a CPTS's communes, volunteer or not."""
